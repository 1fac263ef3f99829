"""mnist-lessons: the helper library behind the book.

Modules, one per stage: `sources` (where MNIST comes from), `data` (preparing it), `models` (the
architecture registry), `train`, `evaluate`, `writeup` (a write-up's whole procedure), `plots`,
`predict` (a reader's own images) and `bench`; `stats` (intervals and paired tests, from SciPy)
and `studies` (the book's repeated training, saved and resumable); `backend` holds what differs
between Keras's backends, and `checks` the argument checks they all share.

Importing the package imports nothing heavy: loading and preparing MNIST needs only NumPy, and
Keras (with its backend) is imported by the modules that use it.
"""

__version__ = "1.0.0"

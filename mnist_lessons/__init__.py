"""mnist-lessons: the helper library behind the book.

Modules, one per stage: `data` (loading and preprocessing), `models` (the architecture
registry), `train`, `evaluate`, `plots`, `predict` (a reader's own images) and `bench`.
"""

from . import _quiet  # noqa: F401  (must run before Keras imports TensorFlow)

__version__ = "1.0.0"

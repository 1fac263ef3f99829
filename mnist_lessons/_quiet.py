"""Imports the backend without its start-up log lines.

TensorFlow's C++ runtime writes informational lines (oneDNN, missing CUDA drivers) straight to
file descriptor 2 while it is imported and when it first looks for devices, before any Python
setting can reach them. They are not warnings about the reader's code, and in an executed book
they would appear on every page, so the import and the device discovery are done once here with
descriptor 2 pointed at /dev/null. Later errors still reach
stderr as usual.
"""

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_backend_quietly() -> None:
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters)
        import tensorflow

        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow

        # Device discovery is lazy and logs a CUDA error on machines without a GPU driver.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_backend_quietly()


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice.

    Keras gives every new model its own prediction function, so scoring several freshly trained
    models in a loop (as the fast-training chapter does for each seed) trips TensorFlow's
    retracing counter, although nothing is traced more than once per model.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_NoRetracingNotice())

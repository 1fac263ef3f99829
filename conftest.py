"""Settings for every test, the chapters that nbval re-executes from ``book/`` included.

A chapter run at its documented settings saves its results for the comparison chapter. Under
test, those runs save into a temporary folder (``MNIST_LESSONS_RESULTS_DIR``, which the library
honours) instead of ``book/results/``, so a test run never changes a committed file. The
kernels nbval and papermill start inherit the variable.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

RESULTS_ENV = "MNIST_LESSONS_RESULTS_DIR"  # mnist_lessons.writeup.RESULTS_ENV


def pytest_configure(config):
    if not os.environ.get(RESULTS_ENV):
        folder = tempfile.mkdtemp(prefix="mnist-lessons-results-")
        os.environ[RESULTS_ENV] = folder
        config._results_folder = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_results_folder", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(RESULTS_ENV, None)


def pytest_collection_modifyitems(config, items):
    """nbval's cells re-execute the committed chapters: they belong to the slow tier."""
    for item in items:
        if item.nodeid.startswith("book/"):
            item.add_marker(pytest.mark.slow)

"""Settings for every test, the chapters that nbval re-executes from ``book/`` included.

A chapter run at its documented settings saves its results for the fast-training chapter. Under
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


_CHAPTER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Adds up the time nbval spends re-executing each committed chapter, cell by cell."""
    if report.nodeid.startswith("book/"):
        chapter = report.nodeid.split("::")[0]
        _CHAPTER_SECONDS[chapter] = _CHAPTER_SECONDS.get(chapter, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Prints how long the whole book took to re-execute at its documented settings."""
    if not _CHAPTER_SECONDS:
        return
    terminalreporter.section("the book re-executed by nbval (documented settings)")
    for chapter, seconds in _CHAPTER_SECONDS.items():
        terminalreporter.write_line(f"{chapter:<40} {seconds:7.0f} s")
    total = sum(_CHAPTER_SECONDS.values())
    terminalreporter.write_line(f"{'whole book':<40} {total:7.0f} s ({total / 60:.1f} min)")

"""Keeps a test run from changing the committed chapter results.

Under nbval every architecture chapter re-executes at its documented settings and saves its
results to ``book/results/``, where the comparison chapter reads them. Those files belong to the
committed, executed book, so the run puts them back as they were when it ends.
"""

from __future__ import annotations

from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "book" / "results"


def _files(folder: Path) -> list[Path]:
    """The files directly in ``folder`` (none if the folder does not exist)."""
    return [path for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []


def snapshot(folder: Path) -> dict[Path, bytes]:
    """The bytes of every file directly in ``folder`` (empty if the folder does not exist)."""
    return {path: path.read_bytes() for path in _files(folder)}


def restore(folder: Path, saved: dict[Path, bytes]) -> None:
    """Puts ``folder`` back to ``saved``: rewrites changed files, deletes files added since."""
    for path in set(_files(folder)) - set(saved):
        path.unlink()
    for path, content in saved.items():
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def pytest_configure(config):
    config._committed_results = snapshot(RESULTS_DIR)


def pytest_unconfigure(config):
    saved = getattr(config, "_committed_results", None)
    if saved is not None:
        restore(RESULTS_DIR, saved)

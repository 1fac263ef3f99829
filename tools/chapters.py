"""Prints the book's notebooks in the order of _toc.yml, one path per line."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _entries(toc: Path) -> list[str]:
    spec = yaml.safe_load(toc.read_text())
    files = [spec["root"]]
    for part in spec.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """The notebooks named in the table of contents, root first (pages written in Markdown,
    such as the drawing page, are left out: see `pages`)."""
    return [
        ROOT / f"{name}.ipynb"
        for name in _entries(toc)
        if not (ROOT / f"{name}.md").exists() or (ROOT / f"{name}.ipynb").exists()
    ]


def pages(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """The Markdown pages named in the table of contents (no code to execute)."""
    return [ROOT / f"{name}.md" for name in _entries(toc) if (ROOT / f"{name}.md").exists()]


if __name__ == "__main__":
    for path in chapters():
        print(path.relative_to(ROOT))
    sys.exit(0)

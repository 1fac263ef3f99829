"""Prints the book's notebooks in the order of _toc.yml, one path per line."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """The notebooks named in the table of contents, root first."""
    spec = yaml.safe_load(toc.read_text())
    files = [spec["root"]]
    for part in spec.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [ROOT / f"{name}.ipynb" for name in files]


if __name__ == "__main__":
    for path in chapters():
        print(path.relative_to(ROOT))
    sys.exit(0)

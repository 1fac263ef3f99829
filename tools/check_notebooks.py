"""Checks the committed chapters before the HTML build.

Fails on a notebook that was not executed, holds an error output or stderr output (log noise a
reader would see), or names a kernel other than ``python3``.

    python tools/check_notebooks.py [FOLDER_OR_NOTEBOOK ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def problems(path: Path) -> list[str]:
    """Everything wrong with one notebook, as readable lines."""
    notebook = json.loads(path.read_text())
    found = []
    kernel = notebook.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        found.append(f"kernelspec is {kernel!r}, not 'python3'")
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    if code and all(cell.get("execution_count") is None for cell in code):
        found.append("committed without outputs (run `make execute`)")
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(
                    f"cell {index}: error output {output.get('ename')}: {output.get('evalue')}"
                )
            elif output.get("name") == "stderr":
                text = "".join(output.get("text", "")).strip().splitlines()
                found.append(f"cell {index}: stderr output: {text[0] if text else ''}")
    return found


def main(arguments: list[str]) -> int:
    targets = [Path(a) for a in arguments] or [Path("book")]
    notebooks = sorted(p for t in targets for p in ([t] if t.is_file() else t.glob("*.ipynb")))
    if not notebooks:
        print(f"no notebooks found in {', '.join(map(str, targets))}", file=sys.stderr)
        return 1
    failed = False
    for path in notebooks:
        for problem in problems(path):
            print(f"{path}: {problem}", file=sys.stderr)
            failed = True
    if not failed:
        print(f"{len(notebooks)} notebooks checked: executed, no errors, no stderr, python3")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

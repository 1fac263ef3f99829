"""Markdown tables for the chapters, from one helper."""

from __future__ import annotations

from collections.abc import Sequence


class MarkdownTable(str):
    """A Markdown table as text; Jupyter displays it as a table when it ends a cell."""

    def _repr_markdown_(self) -> str:
        return str(self)


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence], align: str = ""
) -> MarkdownTable:
    """Formats ``rows`` under ``header`` as a Markdown table.

    Args:
        header: the column titles.
        rows: one sequence of cells per row, each already formatted (``str()`` is applied).
        align: one letter per column, ``l`` or ``r``; columns without a letter are left-aligned.

    Returns:
        A `MarkdownTable`: a ``str`` that Jupyter renders as a table.
    """
    width = len(header)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row must have {width} cells, as the header has")
    if set(align) - {"l", "r"} or len(align) > width:
        raise ValueError(f"align must be up to {width} letters l or r. Received: align={align!r}")
    rule = ["---:" if a == "r" else "---" for a in align.ljust(width, "l")]
    lines = [header, rule, *[[str(cell) for cell in row] for row in rows]]
    return MarkdownTable("\n".join("| " + " | ".join(line) + " |" for line in lines))

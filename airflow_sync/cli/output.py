"""Plain-text tables for the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Left-aligned columns separated by two spaces.

    :param rows: the records
    :param columns: ``(header, key)`` pairs in display order
    """
    cells = [[h for h, _ in columns]]
    cells += [["" if r.get(k) is None else str(r.get(k)) for _, k in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], file: TextIO | None = None
) -> None:
    """Print :func:`format_table` (to stdout by default)."""
    if file is None:
        from airflow_sync.cli import out

        file = out()
    print(format_table(rows, columns), file=file)

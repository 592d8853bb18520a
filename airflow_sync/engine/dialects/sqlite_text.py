"""SQLite as a text-pipe destination: COPY-text lines (``engine/route.py``) inserted without a Python object
per value.

Each line is split into its fields by ``str.split`` (one C call per row) and bound as text: ``NULLIF(?,
'\\N')`` turns the NULL marker into NULL inside SQLite, and the column's affinity turns numeric text into
the INTEGER/REAL it would hold had the row path bound a number (``route.sqlite_takes_text`` allows only such
columns). The source renders every value as the exact text the row path stores (timestamps as Python's
``isoformat``). A block with escape sequences (a backslash other than the NULL marker's) is unescaped in
Python, field by field, and bound with real NULLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_NULL = "\\N"
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_CHARS = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(field: str) -> str | None:
    if field == _NULL:
        return None
    if "\\" not in field:
        return field
    return _ESCAPE.sub(lambda m: _CHARS.get(m.group(1), m.group(1)), field)


def load_lines(conn: Any, table: str, columns_sql: str, width: int, blocks: Iterable[bytes]) -> int:
    """Insert the rows of text-pipe ``blocks`` into ``table``; returns rows inserted.

    :param columns_sql: the quoted, comma-separated column list
    :param width: number of columns (fields per line)
    """
    head = f"INSERT INTO {table} ({columns_sql}) VALUES "
    marked = head + "(" + ", ".join([f"NULLIF(?, '{_NULL}')"] * width) + ")"
    plain = head + "(" + ", ".join(["?"] * width) + ")"
    n = 0
    cur = conn.cursor()
    try:
        for block in blocks:
            text = block.decode("utf-8")
            lines = text.split("\n")
            if lines and not lines[-1]:
                lines.pop()
            rows: Sequence[Sequence[Any]] = [line.split("\t") for line in lines]
            if text.count("\\") == text.count(_NULL):
                cur.executemany(marked, rows)  # every backslash is a NULL marker: no escape sequence
            else:
                cur.executemany(plain, [[_unescape(f) for f in row] for row in rows])
            n += len(rows)
    finally:
        cur.close()
    return n

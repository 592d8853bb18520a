"""SQLite's values as text, both ways: as a text-pipe destination, COPY-text lines (``engine/route.py``)
inserted without a Python object per value; as a source, the bulk checks that let its stored text go to a
destination that parses text (``raw_check``, used by the convert stage).

Each line is split into its fields by ``str.split`` (one C call per row) and bound as text: ``NULLIF(?,
'\\N')`` turns the NULL marker into NULL inside SQLite, and the column's affinity turns numeric text into
the INTEGER/REAL it would hold had the row path bound a number (``route.sqlite_takes_text`` allows only such
columns). The source renders every value as the exact text the row path stores (timestamps as Python's
``isoformat``). A block with escape sequences (a backslash other than the NULL marker's) is unescaped in
Python, field by field, and bound with real NULLs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from airflow_sync.engine.types import ColType

_NULL = "\\N"
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_CHARS = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def unescape(field: str) -> str | None:
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
                cur.executemany(plain, [[unescape(f) for f in row] for row in rows])
            n += len(rows)
    finally:
        cur.close()
    return n


def _nonnull(col: Sequence[Any]) -> list[Any]:
    return [v for v in col if v is not None]


def _iso_timestamps(col: Sequence[Any]) -> bool:
    """ISO text without a zone (what the row path parses into a naive datetime and writes back)."""
    vals = _nonnull(col)
    if not vals:
        return True
    if set(map(type, vals)) != {str}:
        return False
    joined = "\x00".join(vals)
    # a zone suffix (+02:00, -05:00, Z) would be converted by the row path: two dashes per value, no + or Z
    return joined.count("-") == 2 * len(vals) and not any(c in joined for c in "+Zz")


def _iso_dates(col: Sequence[Any]) -> bool:
    vals = _nonnull(col)
    if not vals:
        return True
    if set(map(type, vals)) != {str} or set(map(len, vals)) != {10}:
        return False
    return "\x00".join(vals).count("-") == 2 * len(vals)


def _numbers(col: Sequence[Any]) -> bool:
    """Finite numbers (NUMERIC affinity stores decimals as INTEGER/REAL): their repr is the row path's
    ``Decimal(repr(v))``."""
    vals = _nonnull(col)
    if not vals:
        return True
    kinds = set(map(type, vals))
    if not kinds <= {int, float}:
        return False
    return float not in kinds or all(map(math.isfinite, vals))


def _bits(col: Sequence[Any]) -> bool:
    return set(col) <= {0, 1, None} and bool not in set(map(type, col))


def _strings(col: Sequence[Any]) -> bool:
    vals = _nonnull(col)
    return not vals or set(map(type, vals)) == {str}


def raw_check(s: ColType, d: ColType) -> Callable[[Sequence[Any]], bool] | None:
    """A bulk check that SQLite's stored values of a column of type ``s`` may go as they are to a
    destination of type ``d`` that parses text (see ``Dialect.raw_check``), or None."""
    if s.kind == d.kind == "timestamp" and not s.tz and not d.tz:
        return _iso_timestamps
    if s.kind == d.kind == "date":
        return _iso_dates
    if s.kind == d.kind == "decimal":
        return _numbers
    if s.kind == d.kind == "bool":
        return _bits
    if s.kind == d.kind and s.kind in ("json", "uuid"):
        return _strings
    return None

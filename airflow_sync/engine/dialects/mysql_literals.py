"""SQL literals for MySQL/MariaDB multi-row INSERTs, one specialised renderer per destination column kind.

PyMySQL's generic per-value escaping dominated write time; a renderer chosen once per column avoids the
type dispatch for every value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from itertools import repeat
from typing import Any

#: bytes of VALUES per INSERT statement (well under the default 16 MB max_allowed_packet)
MAX_STATEMENT = 4_000_000
# MySQL string literal escaping (backslash escapes are on unless NO_BACKSLASH_ESCAPES, which we never set)
_ESCAPE = str.maketrans({"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"})


def _lit_str(v: Any) -> str:
    if type(v) is str:
        return "'" + v.translate(_ESCAPE) + "'"
    return _lit_any(v)


def _lit_int(v: Any) -> str:
    t = type(v)
    if t is int:
        return str(v)
    if t is bool:
        return "1" if v else "0"
    return _lit_any(v)


def _lit_any(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "X'" + bytes(v).hex() + "'"
    if isinstance(v, datetime):
        return "'" + v.isoformat(" ") + "'"
    if isinstance(v, (date, time)):
        return "'" + v.isoformat() + "'"
    return "'" + str(v).translate(_ESCAPE) + "'"


def _lit_dec(v: Any) -> str:
    return format(v, "f") if type(v) is Decimal else _lit_any(v)


def _lit_float(v: Any) -> str:
    return repr(v) if type(v) is float else _lit_any(v)


def _lit_ts(v: Any) -> str:
    return "'" + v.isoformat(" ") + "'" if type(v) is datetime else _lit_any(v)


def _lit_date(v: Any) -> str:
    return "'" + v.isoformat() + "'" if type(v) is date else _lit_any(v)


def literal_for(kind: str) -> Callable[[Any], str]:
    """The fastest correct SQL literal renderer for values of a destination column of ``kind``."""
    if kind in ("string", "text", "json", "uuid"):
        return _lit_str
    if kind in ("int16", "int32", "int64", "bool"):
        return _lit_int
    if kind == "decimal":
        return _lit_dec
    if kind in ("float32", "float64"):
        return _lit_float
    if kind == "timestamp":
        return _lit_ts
    if kind == "date":
        return _lit_date
    return _lit_any


#: characters a string literal must escape (see _ESCAPE): a column without any is quoted as it is
_SPECIAL = ("\\", "'", "\0", "\n", "\r", "\x1a")
_QUOTE = "'{}'".format
_NONE = type(None)


def render_column(kind: str, col: Sequence[Any]) -> Iterable[str]:
    """The SQL literals of one column of a batch, the same text as ``map(literal_for(kind), col)``.

    Column-wise: when every non-NULL value of the column has one plain type, one C-level ``map`` renders
    them all (no Python call per value); anything else goes value by value through :func:`literal_for`.
    """
    types = set(map(type, col))
    if _NONE in types:
        types.discard(_NONE)
        if not types:
            return repeat("NULL", len(col))
        if len(types) == 1:
            plain = _render_plain(next(iter(types)), [v for v in col if v is not None])
            if plain is not None:
                rendered = iter(plain)
                return ["NULL" if v is None else next(rendered) for v in col]
    elif len(types) == 1:
        out = _render_plain(next(iter(types)), col)
        if out is not None:
            return out
    return map(literal_for(kind), col)


def _render_plain(t: type, vals: Sequence[Any]) -> Iterable[str] | None:
    """Literals of non-NULL values all of type ``t``, or None when ``t`` has no column-wise form."""
    if t is int or t is float:
        return map(repr, vals)
    if t is str:
        if any(c in "".join(vals) for c in _SPECIAL):
            return map(_lit_str, vals)
        return map(_QUOTE, vals)
    if t is Decimal:
        return map(format, vals, repeat("f"))
    if t is datetime:
        return map(_QUOTE, map(datetime.isoformat, vals, repeat(" ")))
    if t is date:
        return map(_QUOTE, map(date.isoformat, vals))
    if t is bool:
        return map(str, map(int, vals))
    return None

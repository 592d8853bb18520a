"""SQLite as a text-pipe source through Arrow: ADBC reads the file into Arrow in C, Arrow's compute kernels
check each column and render it as COPY text (MySQL's ``LOAD DATA`` default format), so no Python object
is made per value (docs/adr/0006). Optional: needs the ``arrow`` extra (pyarrow, adbc-driver-sqlite);
without it, or wherever a rule below does not hold, SQLite sources take the row path.

SQLite stores any value in any column, so the path renders only what it can prove equal to the row path:

- the SQL shapes each column into one Arrow type (NULL for a value of another storage class) and computes
  an ``ok`` flag per row that is 0 when any value is of a storage class the row path would convert
  differently (text in an INTEGER column, a blob in a TEXT column, an integer beyond 2^53 in a decimal);
- per batch, Arrow checks what SQL cannot cheaply: ISO timestamps and dates by regular expression,
  decimals' digits against the destination's precision and scale, strings' length against the
  destination's, finite floats;
- a batch that fails any check raises :class:`NotExact`; the caller rolls the destination back to a
  savepoint taken before the load and loads the rows on the row path instead (``engine/write.py``).

A first row of typed sentinels fixes each column's Arrow type (ADBC infers types from the values of the
first batch: a column NULL throughout it would otherwise be typed int64 and fail on the first string).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_sync.engine.types import Column

#: rows per Arrow batch: each batch costs a few dozen kernel calls, so small batches cost more than rows
MIN_BATCH = 10_000
#: integers a double holds exactly (a decimal column's integers are read as doubles)
_EXACT = 9007199254740991
_TS = {
    "postgresql": r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?$",
    "mysql": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$",
}
_DATE = r"^\d{4}-\d\d-\d\d$"


class NotExact(Exception):
    """A batch holds a value this path would not store as the row path does: take the row path."""


def import_order() -> None:
    """Load mysql-connector's C extension before pyarrow when it is installed: loaded after pyarrow, it
    fails (``libstdc++: cannot allocate memory in static TLS block``) and MariaDB reads fall back to
    PyMySQL for the rest of the process."""
    with contextlib.suppress(ImportError):
        import _mysql_connector  # noqa: F401


@functools.cache
def available() -> bool:
    """pyarrow and the ADBC SQLite driver are installed (the ``arrow`` extra)."""
    import_order()
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
        import pyarrow.compute  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class ArrowColumn:
    """How one column travels: ``expr``/``ok`` are SQL over ``q.<column>`` (``ok`` empty: nothing to check
    in SQL); the rest is checked in Arrow.

    :param arrow: the Arrow type ``expr`` yields (int64, double or string)
    :param pattern: regular expression every rendered non-NULL value must match
    :param limit: longest string (characters) the destination column takes
    """

    expr: str
    ok: str
    arrow: str
    pattern: str | None = None
    limit: int | None = None
    finite: bool = False
    escape: bool = False
    bits: bool = False


_SENTINEL = {"int64": "0", "double": "0.5", "string": "''"}
#: min/max of a boolean column holding only 0, 1 and NULL
_BITS = ({"min": None, "max": None}, {"min": 0, "max": 0}, {"min": 0, "max": 1}, {"min": 1, "max": 1})


def _decimal_pattern(d: Column) -> str | None:
    p, s = d.type.precision, d.type.scale or 0
    if p is None:
        return r"^-?\d+(\.\d+)?$"
    if p - s <= 0:
        return None
    return rf"^-?\d{{1,{p - s}}}" + (rf"(\.\d{{1,{s}}})?$" if s else "$")


def column(ref: str, s: Column, d: Column, dest: str) -> ArrowColumn | None:
    """The plan for SQLite column ``s`` (SQL ``ref``) into destination column ``d``, or None (row path).

    Numbers are read as stored: ADBC turns an integer in a REAL column into the double the row path would
    send, and fails on any other storage class (a failure sends the load down the row path). Text columns
    need the ``ok`` flag: ADBC would silently turn a number or a blob into text.
    """
    sk, dk = s.type.kind, d.type.kind
    text_ok = f"typeof({ref}) IN ('text', 'null')"
    if sk == dk == "int64":
        return ArrowColumn(ref, "", "int64")
    if sk == dk == "bool":
        return ArrowColumn(ref, "", "int64", bits=True)
    if sk == dk == "float64":
        return ArrowColumn(ref, "", "double", finite=True)
    if sk == dk == "decimal":
        pattern = _decimal_pattern(d)
        if pattern is None:
            return None
        # integers beyond 2^53 would be rounded on their way to a double
        ok = f"(typeof({ref}) <> 'integer' OR {ref} BETWEEN -{_EXACT} AND {_EXACT})"
        return ArrowColumn(ref, ok, "double", pattern=pattern, finite=True)
    if sk in ("string", "text") and dk in ("string", "text"):
        limit = d.type.length if dk == "string" else None
        return ArrowColumn(ref, text_ok, "string", limit=limit, escape=True)
    if sk == dk == "timestamp" and not s.type.tz and not d.type.tz and dest in _TS:
        return ArrowColumn(ref, text_ok, "string", pattern=_TS[dest])
    if sk == dk == "date":
        return ArrowColumn(ref, text_ok, "string", pattern=_DATE)
    return None


def query(sql: str, cols: Sequence[ArrowColumn]) -> str:
    """The statement read through ADBC: a sentinel row, then each row's shaped values and its ok flag."""
    sentinel = ", ".join(_SENTINEL[c.arrow] for c in cols)
    exprs = ", ".join(c.expr for c in cols)
    oks = " AND ".join(f"({c.ok})" for c in cols if c.ok) or "1"
    return f"SELECT {sentinel}, 1 UNION ALL SELECT * FROM (SELECT {exprs}, ({oks}) FROM ({sql}) AS q)"


def text_blocks(path: str, sql: str, cols: Sequence[ArrowColumn], size: int) -> Iterator[Any]:
    """The rows of ``sql`` in the SQLite file ``path`` as blocks of COPY-text lines (buffers, one per Arrow
    batch); raises :class:`NotExact` at the first batch the path cannot render exactly."""
    import adbc_driver_sqlite.dbapi as adbc

    render = _renderer(cols)
    conn = adbc.connect(path)
    try:
        cur = conn.cursor()
        try:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(max(size, MIN_BATCH))})
            batches = _read(cur, query(sql, cols))
            first = True
            for batch in batches:
                if first:
                    batch, first = batch.slice(1), False
                if batch.num_rows:
                    yield render(batch)
        finally:
            cur.close()
    finally:
        conn.rollback()
        conn.close()


def _read(cur: Any, sql: str) -> Iterator[Any]:
    """The Arrow batches of ``sql``. Any failure of the reader (a value of another storage class than
    the column's first ones, a locked file, ...) is :class:`NotExact`: the row path reads the rows again
    and reports its own errors, classified as every SQLite error is."""
    try:
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch
    except Exception as exc:
        raise NotExact(f"the Arrow reader stopped: {type(exc).__name__}") from None


def _renderer(cols: Sequence[ArrowColumn]) -> Callable[[Any], Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    null = pa.scalar("\\N")
    newline = pa.scalar("\n")
    escapes = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
    types = {"int64": pa.int64(), "double": pa.float64(), "string": pa.string()}

    def holds(values: Any) -> bool:
        return bool(pc.all(values).as_py() is not False)

    def field(c: ArrowColumn, a: Any) -> Any:
        if a.type != types[c.arrow]:
            raise NotExact("a column's values are not of one type")
        if c.finite and not holds(pc.is_finite(a)):
            raise NotExact("a float is not finite")
        if c.bits and pc.min_max(a).as_py() not in _BITS:
            raise NotExact("a boolean is neither 0 nor 1")
        if c.arrow != "string":
            a = pc.cast(a, pa.string())
        if c.limit is not None and (pc.max(pc.utf8_length(a)).as_py() or 0) > c.limit:
            raise NotExact("a string is longer than the destination column")
        if c.pattern is not None and not holds(pc.match_substring_regex(a, c.pattern)):
            raise NotExact("a value is not in the form the destination parses as the row path writes it")
        if c.escape and pc.any(pc.match_substring_regex(a, r"[\\\t\n\r]")).as_py():
            for old, new in escapes:
                a = pc.replace_substring(a, old, new)
        return pc.fill_null(a, null)

    def render(batch: Any) -> Any:
        if pc.min(batch.column(len(cols))).as_py() != 1:
            raise NotExact("a value is of a storage class the row path converts")
        fields = [field(c, batch.column(i)) for i, c in enumerate(cols)]
        lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, "\t"), newline, "")
        # the lines' character data, contiguous: the block, without a copy
        offsets = memoryview(lines.buffers()[1]).cast("i")
        return memoryview(lines.buffers()[2])[offsets[lines.offset] : offsets[lines.offset + len(lines)]]

    return render

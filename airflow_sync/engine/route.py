"""Plan stage, per load: which path the rows take from the source to the destination.

- *in-engine copy*: same engine, same representation (PostgreSQL ``COPY TO`` piped into ``COPY FROM``,
  SQLite ``INSERT ... SELECT`` from the attached file, MySQL ``INSERT ... SELECT`` on one server);
- *text pipe*: the source renders each row as one line of PostgreSQL ``COPY`` text (MySQL's ``LOAD DATA``
  default format) in SQL and the destination bulk-loads the lines (docs/adr/0003): no Python per value;
- *Arrow*: a SQLite source read into Arrow in C and rendered as text-pipe lines by Arrow's kernels
  (docs/adr/0006; optional ``arrow`` extra), checked batch by batch, the row path taking over otherwise;
  into SQLite, the text pipe's lines or the source's rendered rows carried as Arrow batches into a scratch
  file and copied by one ``INSERT ... SELECT`` (docs/adr/0007);
- *rows*: fetched rows, converted per column in Python (:mod:`airflow_sync.engine.convert`), written by the
  destination's bulk path. Always possible; the other two apply only where they store the same values.

The text pipe's rule: it is used only where the text form is exact in both engines and the row path would
not check or change a value (no length check, no AutoTruncateStrings count, no coercion).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from airflow_sync.engine import hooks
from airflow_sync.engine.dialects import mysql_arrow, sqlite_arrow
from airflow_sync.engine.dialects.values import same_family
from airflow_sync.engine.types import ColType, Column

if TYPE_CHECKING:
    from airflow_sync.engine.context import RunContext
    from airflow_sync.engine.ddl import DestinationTable

#: (source, destination) dialects with a text path (MySQL to MySQL on one server copies in the engine)
TEXT_PAIRS = {
    ("mysql", "postgresql"), ("postgresql", "mysql"), ("mysql", "mysql"), ("mysql", "sqlite"),
}  # fmt: skip
_INT_RANK = {"int16": 1, "int32": 2, "int64": 3}
_SAME_KIND = ("bool", "float64", "date", "json", "uuid")


def fits(s: ColType, d: ColType, naive_zone: str | None) -> bool:
    """True when every value of ``s`` is stored unchanged by ``d`` from its text form."""
    if s.kind in _INT_RANK:
        return d.kind in _INT_RANK and _INT_RANK[d.kind] >= _INT_RANK[s.kind]
    if s.kind == "decimal":
        if d.kind != "decimal" or s.precision is None:
            return False
        if d.precision is None:
            return True
        ss, ds = s.scale or 0, d.scale or 0
        return ds >= ss and d.precision - ds >= s.precision - ss
    if s.kind in ("string", "text"):
        if d.kind == "text" or (d.kind == "string" and d.length is None):
            return True
        # a shorter destination needs the row path's length check (or AutoTruncateStrings)
        limit = d.length if d.kind == "string" else None
        return limit is not None and s.kind == "string" and s.length is not None and s.length <= limit
    if s.kind == "timestamp":
        if d.kind != "timestamp" or d.tz:
            return False
        return not s.tz or naive_zone is not None
    return s.kind == d.kind and s.kind in _SAME_KIND


def rendered_rows(ctx: RunContext, table: DestinationTable) -> list[str] | None:
    """The source's SQL for each column in the very form the destination's row path would write, or None.

    Applies where the row path would only reformat values (same kind family, no length check that could
    fire, no coercion): the source server does that work and the fetched rows go to the destination as
    they are. Used into SQLite, whose ``executemany`` takes text and numbers alike.
    """
    sq = ctx.sq
    assert sq is not None
    if not hooks.ROW_RENDER or sq.hidden or ctx.dst_d.name != "sqlite" or ctx.shared:
        return None
    exprs: list[str] = []
    for s, d in zip(sq.columns, table.columns, strict=True):
        if d.native.startswith("?") or not same_family(s.type, d.type):
            return None
        shorter = s.type.kind == "string" and (s.type.length or 1 << 62) <= (d.type.length or 0)
        if d.type.kind == "string" and d.type.length and not shorter:
            return None  # the row path's length check (or AutoTruncateStrings) decides per value
        expr = ctx.src_d.row_render(s, ctx.dst_d.name)
        if expr is None:
            return None
        exprs.append(expr)
    return exprs


def sqlite_affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html §3.1)."""
    d = declared.upper()
    if "INT" in d:
        return "INTEGER"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "TEXT"
    if "BLOB" in d or not d.strip():
        return "BLOB"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "REAL"
    return "NUMERIC"


def sqlite_takes_text(d: Column) -> bool:
    """A SQLite column stores the text of a value as the row path stores the value: numbers are bound as
    numbers by the row path, so their text must land in a column whose affinity converts it back."""
    affinity = sqlite_affinity(d.native)
    if d.type.kind in ("int16", "int32", "int64", "float64", "bool"):
        return affinity in ("INTEGER", "REAL", "NUMERIC")
    return affinity != "BLOB"


def local_is_utc() -> bool:
    """The worker's zone is UTC at every date (then local wall time can be computed in SQL)."""
    return time.tzname[0] == "UTC" and time.timezone == 0 and not time.daylight


def naive_zone(ctx: RunContext) -> str | None:
    """The zone in which SQL may render aware timestamps as naive wall time (None: it may not)."""
    return "UTC" if ctx.plan.use_gmt or local_is_utc() else None


def in_engine(ctx: RunContext, table: DestinationTable) -> bool:
    """The in-engine copy may apply: same backend, no helper columns, same representation per column."""
    sq = ctx.sq
    assert sq is not None
    return (
        hooks.IN_ENGINE_COPY
        and sq.hidden == 0
        and ctx.src_d.name == ctx.dst_d.name
        and all(ctx.dst_d.same_representation(s, d) for s, d in zip(sq.columns, table.columns, strict=True))
    )


def text_exprs(ctx: RunContext, table: DestinationTable) -> list[str] | None:
    """The source's SQL rendering of each column for the text pipe, or None when the pipe does not apply."""
    sq = ctx.sq
    assert sq is not None
    src_d, dst_d = ctx.src_d, ctx.dst_d
    if not hooks.TEXT_PIPE or sq.hidden or (src_d.name, dst_d.name) not in TEXT_PAIRS:
        return None
    zone = naive_zone(ctx)
    exprs: list[str] = []
    for s, d in zip(sq.columns, table.columns, strict=True):
        if d.native.startswith("?") or not fits(s.type, d.type, zone):
            return None
        if dst_d.name == "sqlite" and not sqlite_takes_text(d):
            return None
        expr = src_d.text_render(s, zone if s.type.tz else None, dst_d.name)
        if expr is None:
            return None
        exprs.append(expr)
    if not dst_d.text_load_ready(ctx.dst):
        return None
    return exprs


def arrow_columns(ctx: RunContext, table: DestinationTable) -> list[sqlite_arrow.ArrowColumn] | None:
    """How each column of a SQLite source travels through Arrow into PostgreSQL or MySQL (text pipe),
    or None when the path does not apply (then the row path)."""
    sq = ctx.sq
    assert sq is not None
    src_d, dst_d = ctx.src_d, ctx.dst_d
    path = src_d.url.database or ""
    if not hooks.ARROW or sq.hidden or src_d.name != "sqlite" or dst_d.name not in ("postgresql", "mysql"):
        return None
    if path in ("", ":memory:") or not sqlite_arrow.available():
        return None
    cols: list[sqlite_arrow.ArrowColumn] = []
    for s, d in zip(sq.columns, table.columns, strict=True):
        col = None if d.native.startswith("?") else sqlite_arrow.column(
            "q." + src_d.quote_ident(s.name), s, d, dst_d.name)  # fmt: skip
        if col is None:
            return None
        cols.append(col)
    return cols if dst_d.text_load_ready(ctx.dst) else None


#: loads into SQLite of fewer rows keep the paths below: the Arrow path's fixed cost (pyarrow's import, a
#: second connection, the scratch file: ~0.15 s) outweighs what it saves (~1-2 µs per row, docs/adr/0007)
INGEST_MIN_ROWS = 100_000


def sqlite_ingest_ok(ctx: RunContext) -> bool:
    """The rows the text pipe or the source's rendering bring into a SQLite file may travel as Arrow
    batches through a scratch file (``dialects/sqlite_ingest.py``, docs/adr/0007), if there are enough of
    them and the extra is installed (``sqlite_ingest.available``, asked last: it imports pyarrow)."""
    src, path = ctx.src_d.name, ctx.dst_d.url.database or ""
    if not hooks.ARROW or ctx.dst_d.name != "sqlite" or ctx.shared or path in ("", ":memory:"):
        return False
    if src not in ("postgresql", "mysql"):
        return False
    # ADBC reads PostgreSQL's text as UTF-8, as psycopg decodes it on a UTF-8 connection
    return src != "postgresql" or getattr(getattr(ctx.src, "info", None), "encoding", "") == "utf-8"


def ingest_exprs(ctx: RunContext, rendered: list[str]) -> list[str] | None:
    """The rendered columns (:func:`rendered_rows`) as ADBC reads them into the values psycopg would hand
    to SQLite, or None: ``float4`` reaches Python as its shortest text's double, ADBC gives the float's own
    value; json and uuid arrive from psycopg as text (cast here, the server's same text form).

    Timestamps of years 1000-9999 are rendered as their ISO text padded to six fraction digits (ADBC's
    session has DateStyle ISO): the same text as ``to_char`` at ~0.5 s less of the server's time per 1M.
    """
    sq = ctx.sq
    assert sq is not None
    exprs: list[str] = []
    for c, e in zip(sq.columns, rendered, strict=True):
        k, ref = c.type.kind, "q." + ctx.src_d.quote_ident(c.name)
        if k == "float32":
            return None
        if k in ("json", "uuid"):
            e = f"({e})::text"
        elif k == "timestamp":
            e = (
                f"CASE WHEN {ref} < '1000-01-01' OR {ref} >= '10000-01-01' THEN {e} "
                f"WHEN date_trunc('second', {ref}) = {ref} THEN {ref}::text "
                f"ELSE rpad({ref}::text, 26, '0') END"
            )
        exprs.append(e)
    return exprs


def mysql_arrow_fields(ctx: RunContext) -> list[tuple[str, str]] | None:
    """How connectorx reads each column of a MySQL source of a load into SQLite whose text pipe applies
    (``dialects/mysql_arrow.py``, docs/adr/0008), or None when the path does not apply."""
    sq = ctx.sq
    assert sq is not None
    if ctx.src_d.name != "mysql" or not mysql_arrow.available():
        return None
    if mysql_arrow.url(ctx.src_d.connect_params()) is None:  # type: ignore[attr-defined]
        return None
    fields: list[tuple[str, str]] = []
    for c in sq.columns:
        field = mysql_arrow.arrow_field(c.type.kind, c.native, "q." + ctx.src_d.quote_ident(c.name))
        if field is None:
            return None
        fields.append(field)
    return fields

"""Write stage: load the rows of one SELECT into a destination table (the target or a stage) by the path
:mod:`airflow_sync.engine.route` chose, inside the caller's transaction; never commits.

Whatever the path, the run's counts and the check column's maximum are kept alike: the row path tracks the
maximum while reading, the bulk paths ask the source for it first.
"""

from __future__ import annotations

import os
import time
from typing import Any

from airflow_sync.engine import hooks, read, route, split
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.convert import RowConverter
from airflow_sync.engine.ddl import DestinationTable
from airflow_sync.engine.dialects import mysql_arrow, sqlite_ingest
from airflow_sync.engine.dialects.sqlite_arrow import ArrowColumn, NotExact
from airflow_sync.engine.watermark import as_datetime


def converter(ctx: RunContext, table: DestinationTable) -> RowConverter:
    """The convert stage for loads into ``table``."""
    sq = ctx.sq
    assert sq is not None
    return RowConverter(
        ctx.src_d, ctx.dst_d, sq.columns, table.columns, table=table.name,
        use_gmt=ctx.plan.use_gmt, auto_truncate=ctx.plan.auto_truncate_strings, hidden=sq.hidden,
    )  # fmt: skip


def load(
    ctx: RunContext,
    target: str,
    table: DestinationTable,
    conds: list[str],
    order: bool = False,
    changes: bool = False,
) -> int:
    """Load the source rows matching ``conds`` into ``target`` (``table`` or its stage); rows loaded.

    :param order: read in check-column order (a stage merged by key does not need it)
    :param changes: the rows are a window of changes to a table that has rows (a stage): a small window
        is read in key ranges at once (engine/split.py); a first copy never pays the key query
    """
    sq = ctx.sq
    assert sq is not None
    d = ctx.dst_d
    label = f"'{table.name}'" if target == d.qualify(table.schema, table.name) else (
        f"the staging table of '{table.name}'")  # fmt: skip
    copy = route.in_engine(ctx, table)
    text = route.text_exprs(ctx, table)
    rendered = route.rendered_rows(ctx, table) if text is None else None
    arrow = route.arrow_columns(ctx, table) if not copy and text is None and rendered is None else None
    if copy or text is not None or rendered is not None or arrow is not None:
        # bulk paths see no value in Python: the check column's maximum comes from the source, before
        # the rows (its index answers at once); a row changed meanwhile is read again next run, never lost
        newest = source_max(ctx, conds)
        if copy:
            n = _copy_in_engine(ctx, target, table, sq.sql(conds, order, prefix=ctx.attached), label)
            if n is not None:
                ctx.see(newest)
                return n
        ingest = (
            (text is not None or rendered is not None)
            and route.sqlite_ingest_ok(ctx)
            and read.at_least(ctx, conds, route.INGEST_MIN_ROWS)
            and sqlite_ingest.available(ctx.src_d.name)  # imports pyarrow: last
        )
        if text is not None:
            fields = route.mysql_arrow_fields(ctx) if ingest else None
            n = _ingest_mysql(ctx, target, table, sq.sql(conds, order), fields, label) if fields else None
            # a small window of a large table: its key ranges read at once (engine/split.py)
            parts = (split.key_ranges(ctx, conds) if changes and n is None else []) or [[]]
            sqls = [sq.sql(conds + part, order) for part in parts]
            if n is None and ingest:
                n = _ingest_text(ctx, target, table, sqls, text, label)
            if n is None:
                n = _copy_text(ctx, target, table, sqls, text, label)
            if n is not None:
                ctx.see(newest)
                return n
        if rendered is not None:
            exprs = route.ingest_exprs(ctx, rendered) if ingest else None
            n = _ingest_rendered(ctx, target, table, sq.sql(conds, order), exprs, label) if exprs else None
            if n is None:
                sql = f"SELECT {', '.join(rendered)} FROM ({sq.sql(conds, order)}) q"
                n = _load_rendered(ctx, target, table, sql, label)
            ctx.see(newest)
            return n
        if arrow is not None:
            n = _copy_arrow(ctx, target, table, sq.sql(conds, order), arrow, label)
            if n is not None:
                ctx.see(newest)
                return n
    return _load_rows(ctx, target, table, sq.sql(conds, order), label)


def source_max(ctx: RunContext, conds: list[str]) -> Any:
    """The largest check-column value among the source rows matching ``conds`` (canonical), or None."""
    sq = ctx.sq
    assert sq is not None
    if sq.check is None or sq.check_index is None:
        return None
    ctx.at("source", f"reading the newest check value of '{ctx.summary.source}'")
    check = ctx.src_d.quote_ident(sq.columns[sq.check_index].name)
    m = ctx.src_d.scalar(ctx.src, f"SELECT MAX(q.{check}) FROM ({sq.sql(conds)}) q")
    ctx.rollback_source()
    canon = ctx.src_d.reader(sq.check.type, sq.check.native)
    m = canon(m) if canon is not None and m is not None else m
    return as_datetime(m) if m is not None and not isinstance(m, int) else m


def upsert_in_engine(ctx: RunContext, target: str, table: DestinationTable, conds: list[str]) -> bool:
    """An incremental window without a stage: the destination upserts the source's rows in one statement
    (MySQL on one server). True when done; False when the backend or the table cannot (use a stage)."""
    sq = ctx.sq
    assert sq is not None and sq.check is not None and sq.check_index is not None
    if not ctx.attached or not route.in_engine(ctx, table):
        return False
    cols, keys = [c.name for c in table.columns], table.primary_key
    newest = source_max(ctx, conds)  # first: see load()
    ctx.at("destination", f"merging into '{table.name}'")
    both = ctx.dst_d.upsert_query(ctx.dst, target, sq.sql(conds, prefix=ctx.attached), cols, keys)
    if both is None:
        return False
    ctx.see(newest)
    ctx.summary.rows_inserted += both[0]
    ctx.summary.rows_updated += both[1]
    ctx.summary.rows_read += both[2]
    ctx.summary.batches += 1
    hooks.point("batch")
    return True


def _load_rows(ctx: RunContext, target: str, table: DestinationTable, sql: str, label: str) -> int:
    """Row path: fetched batches → per-column conversion → the destination's bulk insert."""
    conv = converter(ctx, table)
    batches = read.row_batches(ctx, sql, label)
    try:
        n = ctx.dst_d.load(ctx.dst, target, table.columns, map(conv.convert, batches), text=conv.text)
    finally:
        batches.close()  # type: ignore[attr-defined]
    ctx.summary.strings_truncated = conv.truncated
    ctx.rollback_source()
    return n


def _load_rendered(ctx: RunContext, target: str, table: DestinationTable, sql: str, label: str) -> int:
    """Rows the source rendered in the destination's form (route.rendered_rows): written as fetched."""
    t0 = time.monotonic()
    batches = read.row_batches(ctx, sql, label, track_max=False)
    try:
        n = ctx.dst_d.load(ctx.dst, target, table.columns, batches)
    finally:
        batches.close()  # type: ignore[attr-defined]
    ctx.rollback_source()
    ctx.summary.rows_read -= n  # counted by row_batches already; _loaded counts bulk paths
    _loaded(ctx, n)
    ctx.detail("loaded %d rows rendered by the source in %.3f s", n, time.monotonic() - t0)
    return n


def _copy_in_engine(
    ctx: RunContext, target: str, table: DestinationTable, sql: str, label: str
) -> int | None:
    """Same-engine copy without per-row Python; None when the backend has none."""
    ctx.at("destination", f"copying into {label}")
    t0 = time.monotonic()
    n = ctx.dst_d.copy_query(ctx.src, sql, ctx.dst, target, table.columns, ctx.token)
    if n is None:
        return None
    ctx.rollback_source()
    _loaded(ctx, n)
    ctx.summary.batches += 1
    ctx.detail("copied %d rows inside the engine in %.3f s", n, time.monotonic() - t0)
    return n


def _copy_text(
    ctx: RunContext, target: str, table: DestinationTable, sqls: list[str], exprs: list[str], label: str
) -> int | None:
    """Text pipe: the source's rendered lines of ``sqls`` (one statement, or a window's key ranges: see
    read.text_blocks) bulk-loaded by the destination; None when the source cannot stream them."""
    t0 = time.monotonic()
    blocks = read.text_blocks(ctx, sqls, exprs, label)
    if blocks is None:
        return None
    try:
        n = ctx.dst_d.load_text(ctx.dst, target, table.columns, blocks, label)
    finally:
        blocks.close()  # type: ignore[attr-defined]
    ctx.at("destination", f"copying into {label}")
    ctx.rollback_source()
    _loaded(ctx, n)
    ctx.detail("copied %d rows through the text pipe in %.3f s", n, time.monotonic() - t0)
    return n


def _copy_arrow(
    ctx: RunContext, target: str, table: DestinationTable, sql: str, cols: list[ArrowColumn], label: str
) -> int | None:
    """A SQLite source through Arrow into the text pipe (route.arrow_columns). None when a batch holds a
    value the path would not store as the row path does: the destination is back at the savepoint taken
    first, and the caller loads the rows on the row path."""
    d, conn = ctx.dst_d, ctx.dst
    t0 = time.monotonic()
    batches = ctx.summary.batches
    d.execute(conn, "SAVEPOINT airflow_sync_arrow")
    blocks = read.arrow_blocks(ctx, sql, cols, label)
    try:
        n = d.load_text(conn, target, table.columns, blocks, label)
    except NotExact as exc:
        ctx.at("destination", f"rolling back the partial load of {label}")
        d.execute(conn, "ROLLBACK TO SAVEPOINT airflow_sync_arrow")
        ctx.summary.batches = batches
        ctx.rollback_source()
        ctx.detail(
            "Arrow path left after %.3f s (%s): loading through the row path", time.monotonic() - t0, exc
        )
        return None
    finally:
        blocks.close()  # type: ignore[attr-defined]
    d.execute(conn, "RELEASE SAVEPOINT airflow_sync_arrow")
    ctx.at("destination", f"copying into {label}")
    ctx.rollback_source()
    _loaded(ctx, n)
    ctx.detail("copied %d rows through Arrow in %.3f s", n, time.monotonic() - t0)
    return n


def _ingest_text(
    ctx: RunContext, target: str, table: DestinationTable, sqls: list[str], exprs: list[str], label: str
) -> int | None:
    """Text pipe into SQLite through Arrow and a scratch file (route.sqlite_ingest_ok); None when a block
    is not as the path expects (nothing reached the destination): the caller takes the text pipe."""
    # one value per row, the whole line (MariaDB's reader then makes one Python object per row, not per
    # field); a line past max_allowed_packet comes back NULL and fails the path, the text pipe then runs
    line = exprs if ctx.src_d.name != "mysql" else [f"CONCAT_WS(_utf8mb4 X'09', {', '.join(exprs)})"]
    blocks = read.text_blocks(ctx, sqls, line, label)  # counts the batches
    if blocks is None:
        return None
    return _ingest(ctx, target, table, sqlite_ingest.text_batches(blocks, len(exprs)), blocks, label, 0)


def _ingest_mysql(
    ctx: RunContext, target: str, table: DestinationTable, sql: str, fields: list[tuple[str, str]], label: str
) -> int | None:
    """MySQL rows read by connectorx into Arrow (route.mysql_arrow_fields), into SQLite through a scratch
    file; None when a batch is not as the path expects: the caller takes the text pipe."""
    params = ctx.src_d.connect_params()  # type: ignore[attr-defined]
    select = f"SELECT {', '.join(e for e, _ in fields)} FROM ({sql}) q"
    beside = os.path.dirname(os.path.abspath(ctx.dst_d.url.database or ""))
    reader = mysql_arrow.batches(params, select, [f for _, f in fields], ctx.token, beside)
    batches = read.prefetch(reader, ctx.token.check, depth=sqlite_ingest.PG_AHEAD)
    return _ingest(ctx, target, table, batches, batches, label, 1)


def _ingest_rendered(
    ctx: RunContext, target: str, table: DestinationTable, sql: str, exprs: list[str], label: str
) -> int | None:
    """Rows PostgreSQL renders in SQLite's row-path form, read by ADBC into Arrow, into SQLite through a
    scratch file; None when a batch is not as the path expects: the caller loads the rendered rows."""
    params = ctx.src_d.connect_params()  # type: ignore[attr-defined]
    reader = sqlite_ingest.pg_batches(params, f"SELECT {', '.join(exprs)} FROM ({sql}) q", ctx.token)
    batches = read.prefetch(reader, ctx.token.check, depth=sqlite_ingest.PG_AHEAD)
    return _ingest(ctx, target, table, batches, batches, label, 1)


def _ingest(
    ctx: RunContext, target: str, table: DestinationTable, batches: Any, stream: Any, label: str, count: int
) -> int | None:
    """``batches`` into ``target`` by ``sqlite_ingest.ingest``; ``stream`` closed after; ``count``: add
    one to the run's batches per batch (the text pipe's reader counts its own)."""
    t0 = time.monotonic()
    cols = ", ".join(ctx.dst_d.quote_ident(c.name) for c in table.columns)
    before = ctx.summary.batches

    def each(rows: int) -> None:
        ctx.token.check()
        ctx.summary.batches += count

    ctx.at("destination", f"copying into {label}")
    try:
        n = sqlite_ingest.ingest(ctx.dst, ctx.dst_d.url.database or "", target, cols, batches, each)
    except NotExact as exc:
        ctx.token.check()  # a reader failing because it was cancelled: the run stops, no other path runs
        ctx.summary.batches = before
        ctx.rollback_source()
        ctx.detail("Arrow ingest left after %.3f s (%s)", time.monotonic() - t0, exc)
        return None
    finally:
        stream.close()
    ctx.rollback_source()
    _loaded(ctx, n)
    ctx.detail("copied %d rows through Arrow and a scratch file in %.3f s", n, time.monotonic() - t0)
    return n


def _loaded(ctx: RunContext, n: int) -> None:
    """Counts after a bulk path loaded ``n`` rows."""
    ctx.token.check()
    ctx.summary.rows_read += n
    hooks.point("batch")

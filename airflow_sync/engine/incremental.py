"""Incremental mode (spec §2.3): lower bound from the stored watermark, ReplicateStartDate or the source
minimum; windows ``[lo, hi)`` up to the run start, each one transaction that commits its rows with its own
watermark; optional key-set delete detection in the last window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_sync.engine import hooks
from airflow_sync.engine.commit import INT_KINDS, commit, final_watermark, run_start
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.convert import RowConverter
from airflow_sync.engine.ddl import DestinationTable
from airflow_sync.engine.dialects.values import to_aware, to_naive
from airflow_sync.engine.merge import merge
from airflow_sync.engine.state import read_watermark
from airflow_sync.engine.watermark import as_datetime, parse_watermark, windows
from airflow_sync.engine.write import load, upsert_in_engine

#: lower bound of a first run without windows: every row whose check value is not NULL
_ALL: Any = object()


def run_incremental(run: RunContext, schema: str | None) -> None:
    """Incremental mode: one transaction per window, each committing its rows and its watermark."""
    plan, d, conn = run.plan, run.dst_d, run.dst
    sq, table = run.sq, run.table
    assert sq is not None and sq.check is not None and sq.check_sql is not None and table is not None
    integer = sq.check.type.kind in INT_KINDS
    aware = sq.check.type.kind == "timestamp" and sq.check.type.tz
    run.max_seen = None
    start = run_start(run)
    stored = None if table.created else read_watermark(d, conn, schema, plan.job_name, plan.query_id)
    d.rollback(conn)
    run.summary.watermark_before = stored
    lower: Any = parse_watermark(stored, integer)
    if lower is None and plan.replicate_start_date is not None and not integer:
        lower = plan.replicate_start_date
    if isinstance(lower, datetime):
        if aware and lower.tzinfo is None:
            lower = to_aware(lower, plan.use_gmt)
        elif not aware and lower.tzinfo is not None:
            lower = to_naive(lower, plan.use_gmt)
    # Without windows, a first run needs no lower bound: "check IS NOT NULL" selects the same rows as
    # "check >= MIN(check)" and saves a scan of the source for the minimum.
    windowed = not integer and bool(plan.replicate_interval and plan.replicate_interval > 0)
    scan_all = lower is None and not windowed
    if lower is None and windowed:
        run.at("source", "reading the minimum of the check column")
        lower = run.src_d.scalar(run.src, f"SELECT MIN({sq.check_sql}) FROM {sq.from_sql}" + (
            f" WHERE ({sq.where_sql})" if sq.where_sql else ""))  # fmt: skip
        canon = run.src_d.reader(sq.check.type, sq.check.native)
        lower = canon(lower) if canon and lower is not None else lower
        lower = as_datetime(lower) if lower is not None and not integer else lower
        run.src_d.rollback(run.src)
    t = sq.check.type
    if scan_all:
        spans: list[tuple[Any, Any]] = [(_ALL, None if integer else start)]
    elif lower is None:
        spans = []
    elif integer:
        spans = [(lower, None)]
    else:
        spans = windows(lower, start, plan.replicate_interval, plan.replicate_interval_unit)
    target = d.qualify(schema, table.name)
    if not spans:
        spans = [(None, None)]
    # windows are disjoint: into a table that was empty when the run started, rows go straight in
    direct = table.created or not d.has_rows(conn, target)
    d.rollback(conn)
    for i, (lo, hi) in enumerate(spans):
        last = i == len(spans) - 1
        d.begin(conn)
        stage = None
        conds: list[str] = []
        if lo is not None:
            lit = run.src_d.literal
            first = f"{sq.check_sql} IS NOT NULL" if lo is _ALL else f"{sq.check_sql} >= {lit(lo, t)}"
            conds = [first] + ([f"{sq.check_sql} < {lit(hi, t)}"] if hi else [])
            run.detail("window %d/%d: %s .. %s", i + 1, len(spans), "start" if lo is _ALL else lo, hi)
        staged = direct or lo is None or not upsert_in_engine(run, target, table, conds)
        if not direct and staged:
            stage = d.create_stage(
                conn, schema, table.name, [c.name for c in table.columns], run.tag, table.primary_key
            )
        if lo is not None and staged:
            # the window commits as one transaction, so the order rows arrive in is unobservable; into
            # an empty table skipping the sort saves the source a full ORDER BY (large on a first load)
            staged_window = stage is not None
            n = load(run, stage or target, table, conds, order=staged_window, changes=staged_window)
            if stage is None:
                run.summary.rows_inserted += n
        hooks.point("staged")
        if stage is not None:
            merge(run, target, stage, table, deletes=False)
            d.drop_stage(conn, stage)
        if not direct and last and plan.delete_detection == "keys" and not plan.skip_deleted:
            detect_deletes(run, schema, table, target)
        hooks.point("merged")
        commit(run, schema, final_watermark(run, start, lower) if last else hi)
        run.summary.windows += 1


def detect_deletes(run: RunContext, schema: str | None, table: DestinationTable, target: str) -> None:
    """Delete destination rows whose key no longer exists in the source (key-set comparison)."""
    sq = run.sq
    assert sq is not None
    d, conn = run.dst_d, run.dst
    keys = list(table.primary_key)
    key_cols = [c for c in table.columns if c.name in keys]
    src_key_cols = [c for c in sq.columns if c.name in keys]
    stage = d.create_stage(conn, schema, table.name, keys, run.tag + "k", keys)
    conv = RowConverter(
        run.src_d, d, src_key_cols, key_cols, table=table.name, use_gmt=run.plan.use_gmt, auto_truncate=True
    )
    run.at("source", f"reading the keys of '{run.summary.source}'")
    stream = run.src_d.stream(run.src, sq.keys_sql(run.src_d), (), 10_000)
    try:
        d.load(conn, stage, key_cols, (conv.convert(b) for b in stream))
    finally:
        stream.close()  # type: ignore[attr-defined]
    d.stage_loaded(conn, stage)
    run.rollback_source()
    run.at("destination", f"deleting vanished keys from '{table.name}'")
    run.summary.rows_deleted += max(0, d.execute(conn, d.delete_missing_sql(target, stage, keys)))
    d.drop_stage(conn, stage)

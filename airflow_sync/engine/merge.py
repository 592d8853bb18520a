"""Write stage, second half of a staged load: set-based statements from the stage into the target."""

from __future__ import annotations

from airflow_sync.engine.context import RunContext
from airflow_sync.engine.ddl import DestinationTable


def merge(ctx: RunContext, target: str, stage: str, table: DestinationTable, *, deletes: bool) -> None:
    """Apply the stage to ``target``: with ``deletes`` (a full load) remove the keys the stage lacks, update
    changed rows, insert new ones; without (an incremental window) an upsert where the backend has one,
    else the stage gets its statistics (:meth:`~airflow_sync.engine.dialects.base.Dialect.stage_loaded`) and
    the two statements run. A full load calls ``stage_loaded`` itself. Counts go to the run's summary."""
    d, conn, summary = ctx.dst_d, ctx.dst, ctx.summary
    cols = [c.name for c in table.columns]
    keys = table.primary_key
    ctx.at("destination", f"merging into '{table.name}'")
    if deletes:
        summary.rows_deleted += max(0, d.execute(conn, d.delete_missing_sql(target, stage, keys)))
    else:
        # incremental windows: the stage holds the changed rows only, a per-row upsert is cheapest
        both = d.upsert_from_stage(conn, target, stage, cols, keys)
        if both is not None:
            summary.rows_inserted += both[0]
            summary.rows_updated += both[1]
            return
        # the upsert reads the stage once, in order, and probes the target's key per row: it needs no
        # statistics; the joins below do (PostgreSQL's ANALYZE of the stage: ~20 ms on 10,000 rows)
        d.stage_loaded(conn, stage)
    upd = d.update_from_stage_sql(target, stage, cols, keys)
    if upd is not None:
        summary.rows_updated += max(0, d.execute(conn, upd))
    summary.rows_inserted += max(0, d.execute(conn, d.insert_from_stage_sql(target, stage, cols, keys)))

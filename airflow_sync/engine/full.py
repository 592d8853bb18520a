"""Full mode: one destination transaction that replaces the table's contents atomically
(``research/replication-peers.md`` §4.4).

(DROP + CREATE when DropTable, on transactional-DDL backends) → either *direct* (target empty,
TruncateTable or no key: ``DELETE`` + bulk load into the target) or *staged* (bulk load into a
session-private stage, then ``DELETE`` vanished keys, ``UPDATE`` changed rows, ``INSERT`` new ones) → state
row → COMMIT. MVCC (PostgreSQL, InnoDB) and SQLite's locking mean readers see the old contents until the
commit, and any failure leaves them untouched.
"""

from __future__ import annotations

from airflow_sync.engine import hooks
from airflow_sync.engine.commit import commit, final_watermark, run_start
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.ddl import ensure_table
from airflow_sync.engine.merge import merge
from airflow_sync.engine.write import load


def run_full(ctx: RunContext, schema: str | None, swap: bool) -> None:
    """Load every source row in one transaction (see module docstring); ``swap``: DropTable without
    transactional DDL, the freshly loaded table replaces the live one after the commit."""
    plan, d, conn = ctx.plan, ctx.dst_d, ctx.dst
    sq = ctx.sq
    assert sq is not None
    ctx.max_seen = None
    start = run_start(ctx)
    d.begin(conn)
    if plan.drop_table and d.transactional_ddl:
        ctx.at("destination", f"dropping table '{plan.destination}'")
        d.execute(conn, d.drop_table_sql(schema, plan.destination))
        ctx.table = ensure_table(
            d, conn, schema, plan.destination, sq.columns, sq.primary_key, alter_schema=True
        )
        ctx.summary.table_created = True
    table = ctx.table
    assert table is not None
    target = d.qualify(schema, table.name)
    keys = table.primary_key
    empty = table.created or not d.has_rows(conn, target)
    if plan.truncate_table or not keys or empty:
        if not empty:
            ctx.at("destination", f"emptying '{table.name}'")
            ctx.summary.rows_deleted = max(0, d.execute(conn, f"DELETE FROM {target}"))
        ctx.summary.rows_inserted = load(ctx, target, table, [])
        hooks.point("staged")
    else:
        stage = d.create_stage(conn, schema, table.name, [c.name for c in table.columns], ctx.tag, keys)
        load(ctx, stage, table, [])
        d.stage_loaded(conn, stage)
        hooks.point("staged")
        merge(ctx, target, stage, table, deletes=not plan.skip_deleted)
        d.drop_stage(conn, stage)
    hooks.point("merged")
    commit(ctx, schema, final_watermark(ctx, start, None) if sq.check is not None else None)
    if swap:
        ctx.at("destination", f"swapping in the new '{plan.destination}'")
        d.swap_tables(conn, schema, plan.destination, table.name)
        ctx.summary.table_created = True

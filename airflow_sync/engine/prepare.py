"""Plan stage: resolve the source query, make the destination ready (schema, table, AlterSchema, state
table) and decide the mode. Ends with a commit of the DDL only; no data moves here."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from airflow_sync.engine.context import RunContext
from airflow_sync.engine.ddl import ensure_table
from airflow_sync.engine.dialects.base import Row
from airflow_sync.engine.reflect import SourceQuery, resolve_source
from airflow_sync.engine.state import ensure_state_table
from airflow_sync.engine.types import Column, infer_type


@dataclass(frozen=True)
class Prepared:
    """What the load needs to know beyond the context.

    :param schema: destination schema (None = default)
    :param incremental: run incremental windows (a check column and a key, no DropTable/TruncateTable)
    :param swap: DropTable on a backend without transactional DDL: load a new table, swap it in at the end
    """

    schema: str | None
    incremental: bool
    swap: bool


def prepare(ctx: RunContext) -> Prepared:
    """Reflect, create/alter the destination and the state table, commit that DDL; fills ``ctx.sq`` and
    ``ctx.table`` (None when DropTable recreates it inside the load transaction)."""
    plan, dst_d = ctx.plan, ctx.dst_d
    if plan.command_timeout:
        # before the first statement that may wait on the destination (SQLite's ATTACH waits on a lock)
        dst_d.set_timeout(ctx.dst, plan.command_timeout)
        dst_d.commit(ctx.dst)  # PostgreSQL: a SET inside a rolled-back transaction is undone
    ctx.sq = sq = resolve_source(plan, ctx.src_d, ctx.src)
    ctx.src_d.rollback(ctx.src)
    if not ctx.shared:
        ctx.attached = dst_d.attach(ctx.dst, ctx.src_d) or ""
    if not all(sq.types_known):
        _infer_types(ctx, sq)
    schema = plan.destination_schema or None
    ctx.at("destination", f"preparing table '{plan.destination}'")
    incremental = sq.check is not None and not plan.drop_table and not plan.truncate_table
    swap = plan.drop_table and not dst_d.transactional_ddl
    if plan.drop_table and dst_d.transactional_ddl:
        ctx.table = None  # DROP + CREATE happen inside the load transaction
        if schema:
            dst_d.create_schema(ctx.dst, schema)
    else:
        name = f"{plan.destination}__as_new" if swap else plan.destination
        if swap:
            dst_d.execute(ctx.dst, dst_d.drop_table_sql(schema, name))
        ctx.table = ensure_table(
            dst_d, ctx.dst, schema, name, sq.columns, sq.primary_key,
            alter_schema=plan.alter_schema or swap, log=ctx.info,
        )  # fmt: skip
        ctx.summary.table_created = ctx.table.created and not swap
        ctx.summary.columns_added = list(ctx.table.added)
    ensure_state_table(dst_d, ctx.dst, schema)
    dst_d.commit(ctx.dst)
    ctx.summary.mode = "incremental" if incremental else "full"
    return Prepared(schema, incremental, swap)


def _infer_types(ctx: RunContext, sq: SourceQuery) -> None:
    """Type computed columns the driver could not describe from a sample of rows (SQLite)."""
    ctx.at("source", "sampling computed columns")
    gen: Generator[list[Row], None, None] = ctx.src_d.stream(ctx.src, sq.sql(), (), 200)  # type: ignore[assignment]
    try:
        sample = next(gen, [])
    finally:
        gen.close()
    ctx.src_d.rollback(ctx.src)
    for i, known in enumerate(sq.types_known):
        if not known:
            sq.columns[i] = Column(sq.columns[i].name, infer_type([r[i] for r in sample]))
            sq.types_known[i] = True

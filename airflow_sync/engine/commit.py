"""Commit stage: the watermark (CData's rule), written in the data transaction, the last cancel check, COMMIT.

Every data COMMIT of the engine goes through :func:`commit`, so ``token.before_commit()`` (the
orchestrator's commit guards, issue #14) runs inside every load transaction on every path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_sync.engine import hooks
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.state import write_watermark
from airflow_sync.engine.watermark import format_watermark, next_watermark

INT_KINDS = ("int16", "int32", "int64")


def run_start(ctx: RunContext) -> datetime:
    """``R``, the run's upper bound: aware for an aware check column, else UTC or local wall time."""
    sq = ctx.sq
    assert sq is not None
    if sq.check is not None and sq.check.type.kind == "timestamp" and sq.check.type.tz:
        return datetime.now(UTC).replace(microsecond=0)
    if ctx.plan.use_gmt:
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return datetime.now().replace(microsecond=0)


def final_watermark(ctx: RunContext, start: datetime, lower: Any) -> Any:
    """The watermark after the last window: the largest value seen (integers) or CData's offset rule."""
    sq = ctx.sq
    assert sq is not None and sq.check is not None
    if sq.check.type.kind in INT_KINDS:
        return ctx.max_seen if ctx.max_seen is not None else lower
    return next_watermark(ctx.max_seen, start, ctx.plan.max_lastmod_offset, ctx.plan.min_lastmod_offset)


def commit(ctx: RunContext, schema: str | None, watermark: Any) -> None:
    """Write the state row with ``watermark`` and COMMIT the destination's transaction."""
    plan = ctx.plan
    ctx.at("destination", f"committing '{plan.destination}'")
    text = format_watermark(watermark)
    write_watermark(ctx.dst_d, ctx.dst, schema, plan.job_name, plan.query_id, plan.destination, text)
    ctx.summary.watermark_after = text
    hooks.point("commit")
    ctx.token.before_commit(ctx.summary)  # a cancel that arrived during the load never commits (issue #14)
    ctx.dst_d.commit(ctx.dst)
    ctx.token.after_commit(ctx.summary)
    hooks.point("committed")

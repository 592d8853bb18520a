"""One query end to end, in one-way stages: plan (:mod:`.prepare`, :mod:`.route`) → read (:mod:`.read`) →
convert (:mod:`.convert`) → write (:mod:`.write`, :mod:`.merge`) → commit (:mod:`.commit`), laid out as
transactions by :mod:`.full` and :mod:`.incremental`.

Public entry point: :func:`run_replication`. See ``spec/replicate-sql.md`` §2 for the semantics.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.engine import URL, make_url

from airflow_sync.engine import trace
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.errors import classify, redacted
from airflow_sync.engine.full import run_full
from airflow_sync.engine.incremental import run_incremental
from airflow_sync.engine.plan import ReplicationPlan, ReplicationSummary
from airflow_sync.engine.prepare import prepare
from airflow_sync.exceptions import (
    ReplicationCancelled,
    ReplicationError,
    TerminalReplicationError,
    TransientReplicationError,
)

__all__ = ["run_replication"]


def run_replication(
    plan: ReplicationPlan,
    source_url: str | URL,
    destination_url: str | URL,
    *,
    cancel: CancelToken | None = None,
    log: logging.Logger | None = None,
) -> ReplicationSummary:
    """Replicate one query from ``source_url`` to ``destination_url``.

    When called on the main thread with a ``cancel`` token, the work runs in a helper thread and the main
    thread waits interruptibly, so a signal handler (the operator's ``on_kill``) can call
    ``cancel.cancel()`` while a statement is in flight.

    :param plan: the fully resolved query
    :param source_url: SQLAlchemy URL of the source
    :param destination_url: SQLAlchemy URL of the destination
    :param cancel: token whose ``cancel()`` interrupts in-flight statements and stops the run
    :param log: logger for per-batch counts and timings (never row values)
    :raises ReplicationError: :class:`~airflow_sync.exceptions.TransientReplicationError` when a retry may
        help, :class:`~airflow_sync.exceptions.TerminalReplicationError` otherwise,
        :class:`~airflow_sync.exceptions.ReplicationCancelled` when cancelled
    """
    token = cancel or CancelToken()
    logger = log or logging.getLogger("airflow_sync.engine")
    if cancel is None or threading.current_thread() is not threading.main_thread():
        return _run(plan, source_url, destination_url, token, logger)

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = _run(plan, source_url, destination_url, token, logger)
        except BaseException as exc:  # re-raised on the calling thread
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"replicate-{plan.query_id}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except BaseException:
        # a signal handler raised (e.g. task termination): stop the statement, let the worker roll back
        token.cancel()
        worker.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def _run(
    plan: ReplicationPlan,
    source_url: str | URL,
    destination_url: str | URL,
    token: CancelToken,
    log: logging.Logger,
) -> ReplicationSummary:
    src_url = make_url(source_url) if isinstance(source_url, str) else source_url
    dst_url = make_url(destination_url) if isinstance(destination_url, str) else destination_url
    src_d = dialect_for(src_url)
    dst_d = dialect_for(dst_url)
    token.check()
    _refuse_self_copy(plan, src_url, dst_url)
    started = time.monotonic()
    conns: list[tuple[Any, Any]] = []
    handles: list[int] = []
    try:
        try:
            dst = dst_d.connect()
            conns.append((dst_d, dst))
            same_sqlite = (
                src_d.name == dst_d.name == "sqlite"
                and src_url.database == dst_url.database
                and src_url.database
            )
            src = dst if same_sqlite else src_d.connect()
            if src is not dst:
                conns.append((src_d, src))
        except ReplicationError:
            raise
        except Exception as exc:
            err = classify(exc, dst_d, where="connecting", cancelled=token.cancelled)
            if isinstance(err, TerminalReplicationError) and _looks_like_connection_error(exc):
                err = TransientReplicationError(err.message)
            raise err from redacted(exc)
        handles.append(token.register(src_d.canceller(src)))
        if src is not dst:
            handles.append(token.register(dst_d.canceller(dst)))
        run = RunContext(plan, src_d, src, dst_d, dst, token, log)
        try:
            with trace.bound(log, plan.verbosity):  # Verbosity 4-5: the statements, never values
                summary = _execute(run)
        except ReplicationCancelled:
            raise
        except ReplicationError:
            raise
        except BaseException as exc:
            d = dst_d if run.side == "destination" else src_d
            raise classify(
                exc,
                d,
                where=run.where,
                known=run.known_names(),
                cancelled=token.cancelled,
                timeout=plan.command_timeout,
            ) from redacted(exc, run.known_names())
        summary.seconds = round(time.monotonic() - started, 3)
        return summary
    finally:
        for h in handles:
            token.unregister(h)
        for d, c in conns:
            d.rollback(c)
            d.close(c)


def _execute(ctx: RunContext) -> ReplicationSummary:
    """The stages of one run (see module docstring)."""
    prepared = prepare(ctx)
    sq, summary = ctx.sq, ctx.summary
    assert sq is not None
    ctx.info(
        "Replicating %s -> %s (%s mode, %d columns, key %s)",
        summary.source, summary.destination, summary.mode, len(sq.columns), list(sq.primary_key) or "none",
    )  # fmt: skip
    if prepared.incremental:
        run_incremental(ctx, prepared.schema)
    else:
        run_full(ctx, prepared.schema, prepared.swap)
    ctx.info(
        "Done %s: read %d, inserted %d, updated %d, deleted %d, truncated %d",
        summary.destination, summary.rows_read, summary.rows_inserted, summary.rows_updated,
        summary.rows_deleted, summary.strings_truncated,
    )  # fmt: skip
    return summary


def _refuse_self_copy(plan: ReplicationPlan, src_url: URL, dst_url: URL) -> None:
    """A query whose source and destination are the same table of the same database would empty it."""

    def where(u: URL) -> tuple[object, ...]:
        return (u.get_backend_name(), u.host, u.port, u.database)

    if where(src_url) != where(dst_url):
        return
    ref = plan.select.source if plan.select is not None else plan.source
    if ref.name.lower() == plan.destination.lower() and (ref.schema or "") == (plan.destination_schema or ""):
        raise TerminalReplicationError(
            f"Source and destination are the same table '{plan.destination}' in the same database; "
            "set TableNamePrefix or a different destination name"
        )


def _looks_like_connection_error(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name in ("OperationalError", "InterfaceError", "ConnectionError") or isinstance(exc, OSError)

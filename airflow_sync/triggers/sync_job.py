"""Triggers that wait on a Sync job in the triggerer, without holding a worker slot.

- :class:`SyncJobTrigger` polls ``getJobStatus`` until the run's job-level status is final.
- :class:`SyncJobHistoryTrigger` polls ``history`` until a successful run started at or after a given time.

Both only ask the server (no Airflow metadata), keep polling through transient failures (5xx, 429,
connection errors: the Sync server restarting must not fail a long wait), and end with one event. Deadlines
are absolute wall-clock times, so a triggerer restart does not extend them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_wire import SyncApiError


def _now() -> datetime:
    return datetime.now(UTC)


def _past(end_by: str | None) -> bool:
    deadline = wire.parse_instant(end_by) if end_by else None
    return deadline is not None and _now() >= deadline


class SyncJobTrigger(BaseTrigger):
    """Wait until the run of ``job_name`` started by the operator reaches a final status.

    Event payload: ``status`` (``success``, ``failed``, ``cancelled``, ``skipped``, ``timeout`` or ``error``),
    ``job_name``, ``rows`` (the last getJobStatus rows, job-level row first) and ``message`` (the server's
    error text for a failed run, or what went wrong).

    :param job_name: the Sync job
    :param sync_conn_id: a ``cdata_sync`` connection
    :param poll_interval: seconds between two status requests
    :param end_by: ISO time after which the wait ends with a ``timeout`` event (None: no limit)
    :param run_id: the run's id when the server returned one (this API does; CData does not): rows of
        another run are not taken for this one's outcome
    :param run_start: the run's ``RunStartDate`` from the execute answer: an older finished run is ignored
    """

    def __init__(
        self,
        *,
        job_name: str,
        sync_conn_id: str,
        poll_interval: float = 30.0,
        end_by: str | None = None,
        run_id: str | None = None,
        run_start: str | None = None,
    ) -> None:
        super().__init__()
        self.job_name = job_name
        self.sync_conn_id = sync_conn_id
        self.poll_interval = float(poll_interval)
        self.end_by = end_by
        self.run_id = run_id
        self.run_start = run_start

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_name": self.job_name,
                "sync_conn_id": self.sync_conn_id,
                "poll_interval": self.poll_interval,
                "end_by": self.end_by,
                "run_id": self.run_id,
                "run_start": self.run_start,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_sync.hooks.sync_api_async import SyncApiAsyncHook

        hook = SyncApiAsyncHook(self.sync_conn_id)
        rows: list[dict[str, Any]] = []
        base = {"job_name": self.job_name}
        while True:
            try:
                rows = await hook.get_job_status(self.job_name, push_on_query=True)
            except SyncApiError as exc:
                if not exc.retryable:
                    yield TriggerEvent({**base, "status": "error", "message": str(exc), "rows": rows})
                    return
                self.log.warning("getJobStatus of %s failed (%s); polling on", self.job_name, exc)
            else:
                state, job_row = wire.job_state(rows, self.job_name)
                if state in wire.FINAL_STATES and wire.is_same_run(job_row, self.run_id, self.run_start):
                    message = wire.failure_text(rows) if state != wire.SUCCESS else ""
                    yield TriggerEvent({**base, "status": state, "message": message, "rows": rows})
                    return
                self.log.info("Sync job %s is %s", self.job_name, job_row.get("Status") or state)
            if _past(self.end_by):
                message = f"job {self.job_name!r} did not finish by {self.end_by}"
                yield TriggerEvent({**base, "status": "timeout", "message": message, "rows": rows})
                return
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """The user failed or cleared the deferred task: cancel the remote run, as on_kill of the operator."""
        from airflow_sync.hooks.sync_api_async import SyncApiAsyncHook

        try:
            await SyncApiAsyncHook(self.sync_conn_id, retries=0).cancel_job(self.job_name)
            self.log.info("Cancelled Sync job %s", self.job_name)
        except SyncApiError as exc:  # already finished, or the server is gone: nothing left to stop
            self.log.warning("Could not cancel Sync job %s: %s", self.job_name, exc)


class SyncJobHistoryTrigger(BaseTrigger):
    """Wait until ``job_name`` has a successful run that started at or after ``since``.

    Event payload: ``status`` (``success``, ``timeout`` or ``error``), ``job_name``, ``row`` (the newest such
    history row) and ``message``.

    :param since: ISO time; runs that started earlier do not count
    :param poll_interval: seconds between two history requests
    :param end_by: ISO time after which the wait ends with a ``timeout`` event (None: no limit)
    """

    def __init__(
        self,
        *,
        job_name: str,
        sync_conn_id: str,
        since: str,
        poll_interval: float = 60.0,
        end_by: str | None = None,
    ) -> None:
        super().__init__()
        self.job_name = job_name
        self.sync_conn_id = sync_conn_id
        self.since = since
        self.poll_interval = float(poll_interval)
        self.end_by = end_by

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_name": self.job_name,
                "sync_conn_id": self.sync_conn_id,
                "since": self.since,
                "poll_interval": self.poll_interval,
                "end_by": self.end_by,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_sync.hooks.sync_api_async import SyncApiAsyncHook

        hook = SyncApiAsyncHook(self.sync_conn_id)
        since = wire.parse_instant(self.since)
        base = {"job_name": self.job_name}
        while True:
            try:
                rows = await hook.history(self.job_name, since=since)
            except SyncApiError as exc:
                if not exc.retryable:
                    yield TriggerEvent({**base, "status": "error", "message": str(exc), "row": None})
                    return
                self.log.warning("history of %s failed (%s); polling on", self.job_name, exc)
            else:
                row = successful_run(rows)
                if row is not None:
                    yield TriggerEvent({**base, "status": "success", "message": "", "row": row})
                    return
            if _past(self.end_by):
                message = f"no successful run of {self.job_name!r} since {self.since} by {self.end_by}"
                yield TriggerEvent({**base, "status": "timeout", "message": message, "row": None})
                return
            await asyncio.sleep(self.poll_interval)


def successful_run(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest history row whose status is successful (rows come newest first)."""
    return next((r for r in rows if wire.normalize_status(r.get("Status")) == wire.SUCCESS), None)

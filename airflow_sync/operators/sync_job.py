"""``SyncJobOperator``: run a job of a CData Sync-compatible server from any DAG, and wait for it.

The operator starts the run (``executeJob``, or ``executeQuery`` for a subset of the job's queries) without
holding the HTTP request open (``WaitForResults=false``), then waits for the job-level status to be final:
in the triggerer (:class:`~airflow_sync.triggers.sync_job.SyncJobTrigger`, the default) or by polling in the
worker (``deferrable=False``). The task's XCom return value is the run's result rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import BaseOperator

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_api import SyncApiError, SyncApiHook
from airflow_sync.triggers.sync_job import SyncJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

#: outcomes that end the task successfully (a skipped run did nothing wrong)
OK_STATES = (wire.SUCCESS, wire.SKIPPED)


class SyncJobOperator(BaseOperator):
    """Execute a Sync job (or some of its queries) and, by default, wait until it ends.

    :param job_name: the job's ``JobName`` (templated)
    :param queries: run only these queries of the job, given as their REPLICATE text (``executeQuery``);
        None runs the whole job (templated)
    :param wait_for_completion: wait for the run to end and fail the task when it fails or is cancelled; when
        False the task ends once the run is queued and returns the execute answer's rows
    :param poll_interval: seconds between two ``getJobStatus`` requests while waiting
    :param timeout: seconds to wait at most (None: no limit); the run itself is not cancelled when the wait
        gives up, as with CData's own ``Timeout``
    :param sync_conn_id: a ``cdata_sync`` connection
    :param deferrable: wait in the triggerer instead of a worker slot
    :return: (XCom) the run's result rows as the server sends them: the job-level row (``Query: None``,
        ``Status``, ``Detail``, ``RunStartDate``...) followed by one row per query (``Query``, ``Status``,
        ``Result``, ``RecordsAffected``...)
    """

    template_fields: Sequence[str] = ("job_name", "queries")
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        job_name: str,
        queries: list[str] | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        sync_conn_id: str = SyncApiHook.default_conn_name,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.queries = queries
        self.wait_for_completion = wait_for_completion
        self.poll_interval = float(poll_interval)
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.sync_conn_id = sync_conn_id
        self.deferrable = deferrable
        self._started = False

    @cached_property
    def hook(self) -> SyncApiHook:
        """Created on first use, so nothing connects while the DAG file is parsed."""
        return SyncApiHook(self.sync_conn_id)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        queries = list(self.queries) if self.queries else None
        what = (
            f"{len(queries)} queries of Sync job {self.job_name}" if queries else f"Sync job {self.job_name}"
        )
        self.log.info("Starting %s", what)
        rows = self.hook.execute_job(self.job_name, queries=queries, wait=False)
        self._started = True
        state, job_row = wire.job_state(rows, self.job_name)
        run_id = str(job_row["RunId"]) if job_row.get("RunId") else None
        run_start = job_row.get("RunStartDate")
        self.log.info("Sync job %s: %s (run %s)", self.job_name, job_row.get("Status"), run_id or run_start)
        if not self.wait_for_completion:
            return rows
        if state in wire.FINAL_STATES:  # a server that ran it synchronously anyway
            return self._finish(state, rows, wire.failure_text(rows))
        end_by = None
        if self.timeout:
            end_by = (datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat()
        if self.deferrable:
            self.defer(
                trigger=SyncJobTrigger(
                    job_name=self.job_name,
                    sync_conn_id=self.sync_conn_id,
                    poll_interval=self.poll_interval,
                    end_by=end_by,
                    run_id=run_id,
                    run_start=run_start,
                ),
                method_name="execute_complete",
            )
        return self._poll(run_id, run_start, end_by)

    def _poll(self, run_id: str | None, run_start: str | None, end_by: str | None) -> list[dict[str, Any]]:
        deadline = wire.parse_instant(end_by) if end_by else None
        rows: list[dict[str, Any]] = []
        while True:
            try:
                rows = self.hook.get_job_status(self.job_name, push_on_query=True)
            except SyncApiError as exc:
                if not exc.retryable:
                    raise
                self.log.warning("getJobStatus of %s failed (%s); polling on", self.job_name, exc)
            else:
                state, job_row = wire.job_state(rows, self.job_name)
                if state in wire.FINAL_STATES and wire.is_same_run(job_row, run_id, run_start):
                    return self._finish(state, rows, wire.failure_text(rows))
                self.log.info("Sync job %s is %s", self.job_name, job_row.get("Status") or state)
            if deadline is not None and datetime.now(UTC) >= deadline:
                raise AirflowException(f"Sync job {self.job_name!r} did not finish within {self.timeout}s")
            time.sleep(self.poll_interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Resume after the trigger fired: the run's rows, or the task fails with the server's error text."""
        self._started = True
        status = str(event.get("status"))
        rows = list(event.get("rows") or [])
        if status == "timeout":
            raise AirflowException(f"Sync job {self.job_name!r} did not finish within {self.timeout}s")
        if status == "error":
            raise AirflowException(f"Sync job {self.job_name!r}: {event.get('message')}")
        return self._finish(status, rows, str(event.get("message") or ""))

    def _finish(self, state: str, rows: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
        if state in OK_STATES:
            self.log.info("Sync job %s ended %s (%d result rows)", self.job_name, state, len(rows))
            self._started = False
            return rows
        self._started = False
        raise AirflowException(
            f"Sync job {self.job_name!r} {state}: {message or 'no detail from the server'}"
        )

    def on_kill(self) -> None:
        """The task is being killed while the run goes on: cancel the remote run."""
        if not self._started:
            return
        try:
            self.hook.cancel_job(self.job_name)
            self.log.info("Cancelled Sync job %s", self.job_name)
        except SyncApiError as exc:  # it ended meanwhile, or the server is unreachable
            self.log.warning("Could not cancel Sync job %s: %s", self.job_name, exc)

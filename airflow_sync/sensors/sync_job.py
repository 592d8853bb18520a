"""``SyncJobSensor``: wait until a Sync job has finished successfully since a given time (history-based).

Typical use: a DAG that reads tables a Sync job fills waits for that job's run of the same period, whoever
started it (its schedule, the Sync console, another DAG).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import BaseSensorOperator

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_api import SyncApiError, SyncApiHook
from airflow_sync.triggers.sync_job import SyncJobHistoryTrigger, successful_run

if TYPE_CHECKING:
    from airflow.sdk import Context


class SyncJobSensor(BaseSensorOperator):
    """Succeed once ``job_name`` has a ``Successful`` history row with ``RunStartDate`` at or after ``since``.

    :param job_name: the job's ``JobName`` (templated)
    :param since: a datetime or ISO string (templated); default: the run's data interval start, else its
        logical date, else when the run was created
    :param sync_conn_id: a ``cdata_sync`` connection
    :param deferrable: wait in the triggerer (polling ``history`` every ``poke_interval`` seconds) instead of
        poking from a worker
    :return: (XCom) the matching history row (``Id``, ``RunStartDate``, ``Status``, ``RecordsAffected``...)
    """

    template_fields: Sequence[str] = ("job_name", "since")
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        job_name: str,
        since: datetime | str | None = None,
        sync_conn_id: str = SyncApiHook.default_conn_name,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.since = since
        self.sync_conn_id = sync_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> SyncApiHook:
        return SyncApiHook(self.sync_conn_id)

    def since_instant(self, context: Context) -> datetime:
        """``since`` as an aware datetime (naive values are UTC), or the run's default."""
        if self.since:
            instant = wire.parse_instant(self.since)
            if instant is None:
                raise AirflowException(f"since={self.since!r} is not an ISO date or datetime")
            return instant
        for key in ("data_interval_start", "logical_date"):
            value = context.get(key)  # type: ignore[attr-defined]
            if value:
                return wire.parse_instant(value) or datetime.now(UTC)
        dag_run = context.get("dag_run")  # type: ignore[attr-defined]
        run_after = getattr(dag_run, "run_after", None)
        return (wire.parse_instant(run_after) if run_after else None) or datetime.now(UTC)

    def poke(self, context: Context) -> bool | Any:
        since = self.since_instant(context)
        try:
            rows = self.hook.history(self.job_name, since=since)
        except SyncApiError as exc:
            if not exc.retryable:
                raise
            self.log.warning("history of %s failed (%s); poking again later", self.job_name, exc)
            return False
        row = successful_run(rows)
        self.log.info(
            "Sync job %s: %d run(s) since %s, %s",
            self.job_name,
            len(rows),
            since,
            "done" if row else "waiting",
        )
        if row is None:
            return False
        from airflow.sdk.bases.sensor import PokeReturnValue

        return PokeReturnValue(is_done=True, xcom_value=row)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # One look first: no trip through the triggerer when the run is already there.
        done = self.poke(context)
        if done:
            return getattr(done, "xcom_value", None)
        end_by = (datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat() if self.timeout else None
        self.defer(
            trigger=SyncJobHistoryTrigger(
                job_name=self.job_name,
                sync_conn_id=self.sync_conn_id,
                since=self.since_instant(context).isoformat(),
                poll_interval=self.poke_interval,
                end_by=end_by,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: the history row, or the sensor fails (or skips with soft_fail)."""
        if event.get("status") == "success":
            return event.get("row")
        from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException

        message = f"Sync job {self.job_name!r}: {event.get('message')}"
        if self.soft_fail:
            raise AirflowSkipException(message)
        if event.get("status") == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowException(message)

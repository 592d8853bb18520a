"""SyncJobSensor against the fake CData Sync server: "job X finished successfully since T", poked from the
worker or deferred to the history trigger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, AirflowSkipException
from airflow.sdk.exceptions import TaskDeferred

from airflow_sync.sensors.sync_job import SyncJobSensor
from airflow_sync.triggers.sync_job import SyncJobHistoryTrigger
from tests.fakes.cdata_sync import FakeSyncServer

TOKEN = "sensor-token-0123456789"
T = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)  # 02:00 in the fake server's -05:00 zone


@pytest.fixture
def fake(monkeypatch):
    with FakeSyncServer(token=TOKEN) as server:
        server.add_job("SF_to_PG", ["REPLICATE [Account]"])
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", server.connection())
        yield server


def sensor(**kwargs) -> SyncJobSensor:
    kwargs = {"poke_interval": 0.01, "timeout": 60, **kwargs}
    return SyncJobSensor(task_id="wait", job_name="SF_to_PG", sync_conn_id="sync_fake", **kwargs)


def context(start: datetime = T) -> dict:
    return {"data_interval_start": start, "logical_date": start}


def test_poke_counts_only_successful_runs_started_since_the_interval_start(fake):
    s = sensor(deferrable=False)
    fake.add_history("SF_to_PG", T - timedelta(minutes=1))  # the previous period's run
    fake.add_history("SF_to_PG", T + timedelta(minutes=5), status="Failed")
    assert not s.poke(context())
    good = fake.add_history("SF_to_PG", T + timedelta(minutes=30))
    done = s.poke(context())
    assert done and done.xcom_value["Id"] == good["Id"]


def test_history_filter_refused_by_the_server_still_works(fake):
    fake.history_filter_fails = True
    fake.add_history("SF_to_PG", T + timedelta(minutes=30))
    assert sensor(deferrable=False).poke(context())
    assert len(fake.calls("history")) == 2  # $filter refused, then the whole history filtered here


def test_explicit_since_wins_over_the_interval(fake):
    fake.add_history("SF_to_PG", T + timedelta(minutes=30))
    assert not sensor(since="2026-03-01T08:00:00+00:00").poke(context())
    assert sensor(since="2026-03-01").poke(context())
    with pytest.raises(AirflowException, match="not an ISO date"):
        sensor(since="yesterday").poke(context())


def test_deferrable_returns_at_once_when_the_run_is_there(fake):
    good = fake.add_history("SF_to_PG", T + timedelta(minutes=30))
    assert sensor().execute(context())["Id"] == good["Id"]


def test_deferrable_defers_to_the_history_trigger_then_resumes_with_the_row(fake):
    with pytest.raises(TaskDeferred) as deferred:
        sensor().execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, SyncJobHistoryTrigger)
    assert datetime.fromisoformat(trigger.since) == T
    assert trigger.end_by is not None
    good = fake.add_history("SF_to_PG", T + timedelta(minutes=30))

    async def first():
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(asyncio.wait_for(first(), timeout=30))
    assert sensor().execute_complete(context(), event)["Id"] == good["Id"]


def test_unhappy_events_fail_or_skip():
    timeout = {"status": "timeout", "message": "no successful run", "row": None}
    with pytest.raises(AirflowSensorTimeout, match="no successful run"):
        sensor().execute_complete(context(), timeout)
    with pytest.raises(AirflowSkipException):
        sensor(soft_fail=True).execute_complete(context(), timeout)
    with pytest.raises(AirflowException, match="401"):
        sensor().execute_complete(context(), {"status": "error", "message": "401 Unauthorized", "row": None})


def test_non_deferrable_execute_pokes_until_done(fake):
    fake.add_history("SF_to_PG", T + timedelta(minutes=30))
    assert sensor(deferrable=False).execute(context())["JobName"] == "SF_to_PG"

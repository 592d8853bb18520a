"""The triggers' async generators, run directly on an event loop against the fake CData Sync server (as the
triggerer would run them): which event fires, after how many polls, and with what."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync.hooks.sync_api import SyncApiHook
from airflow_sync.hooks.sync_api_async import SyncApiAsyncHook
from airflow_sync.triggers.sync_job import SyncJobHistoryTrigger, SyncJobTrigger
from tests.fakes.cdata_sync import FakeSyncServer

TOKEN = "trigger-token-0123456789"
QUERIES = ["REPLICATE [Account]", "REPLICATE [Opportunity]"]


@pytest.fixture
def fake(monkeypatch):
    with FakeSyncServer(token=TOKEN) as server:
        server.add_job("SF_to_PG", QUERIES)
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", server.connection())
        yield server


def events(trigger) -> list:
    """Every event the trigger yields (a single-event trigger yields exactly one, then returns)."""

    async def collect():
        return [e.payload async for e in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout=30))


def start(fake, script):
    fake.jobs["SF_to_PG"].script = script
    rows = SyncApiHook("sync_fake").execute_job("SF_to_PG")
    return rows[0]["RunStartDate"]


def job_trigger(**kwargs) -> SyncJobTrigger:
    return SyncJobTrigger(job_name="SF_to_PG", sync_conn_id="sync_fake", poll_interval=0.01, **kwargs)


def test_success_after_running(fake):
    run_start = start(fake, ["RUNNING", "RUNNING", "SUCCESS"])
    (event,) = events(job_trigger(run_start=run_start))
    assert event["status"] == "success"
    assert [r["Query"] for r in event["rows"]] == [None, *QUERIES]
    assert {r["Status"] for r in event["rows"]} == {"SUCCESS"}
    assert len(fake.calls("getJobStatus")) == 2  # the execute answer was the first RUNNING
    assert all(c.body["PushOnQuery"] == "true" for c in fake.calls("getJobStatus"))


def test_failure_carries_the_servers_error_text(fake):
    run_start = start(fake, ["RUNNING", "FAILED"])
    (event,) = events(job_trigger(run_start=run_start))
    assert event["status"] == "failed"
    assert "REPLICATE [Opportunity]: Table [Account] could not be replicated" in event["message"]


def test_transient_errors_do_not_end_the_wait(fake):
    run_start = start(fake, ["RUNNING", "SUCCESS"])
    fake.fail_next(6, status=503)  # more than one request's retries
    (event,) = events(job_trigger(run_start=run_start))
    assert event["status"] == "success"


def test_a_refused_request_ends_the_wait_with_an_error(fake):
    start(fake, ["RUNNING"])
    fake.token = "rotated-token-000000000"  # the connection's token is no longer valid
    (event,) = events(job_trigger())
    assert event["status"] == "error"
    assert "401" in event["message"] and "Invalid authtoken" in event["message"]


def test_deadline_gives_a_timeout_event_and_leaves_the_run_alone(fake):
    start(fake, ["RUNNING"])
    end_by = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    (event,) = events(job_trigger(end_by=end_by))
    assert event["status"] == "timeout"
    assert event["rows"][0]["Status"] == "RUNNING"
    assert fake.calls("cancelJob") == []


def test_a_finished_older_run_is_not_taken_for_the_new_one(fake):
    start(fake, ["SUCCESS"])
    SyncApiHook("sync_fake").get_job_status("SF_to_PG")  # that run is over
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    end_by = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    (event,) = events(job_trigger(run_start=later, end_by=end_by))
    assert event["status"] == "timeout"
    (event,) = events(job_trigger(run_id="other-run", end_by=end_by))  # no RunId from CData: dates decide
    assert event["status"] == "success"


def test_serialize_round_trip():
    trigger = job_trigger(end_by="2030-01-01T00:00:00+00:00", run_id="r1", run_start="2030-01-01")
    path, kwargs = trigger.serialize()
    assert path == "airflow_sync.triggers.sync_job.SyncJobTrigger"
    assert SyncJobTrigger(**kwargs).serialize() == (path, kwargs)
    history = SyncJobHistoryTrigger(job_name="j", sync_conn_id="c", since="2030-01-01T00:00:00+00:00")
    path, kwargs = history.serialize()
    assert SyncJobHistoryTrigger(**kwargs).serialize() == (path, kwargs)


def test_on_kill_cancels_the_remote_run(fake):
    start(fake, ["RUNNING"])
    asyncio.run(job_trigger().on_kill())
    assert len(fake.calls("cancelJob")) == 1
    assert fake.jobs["SF_to_PG"].status == "CANCELLED"
    asyncio.run(job_trigger().on_kill())  # nothing running any more: logged, not raised


def history_trigger(since: datetime, **kwargs) -> SyncJobHistoryTrigger:
    return SyncJobHistoryTrigger(
        job_name="SF_to_PG", sync_conn_id="sync_fake", since=since.isoformat(), poll_interval=0.01, **kwargs
    )


@pytest.mark.parametrize("filter_fails", [False, True])
def test_history_trigger_fires_on_a_successful_run_since_t(fake, filter_fails):
    fake.history_filter_fails = filter_fails
    now = datetime.now(UTC)
    fake.add_history("SF_to_PG", now - timedelta(hours=3))  # before T
    fake.add_history("SF_to_PG", now - timedelta(minutes=30), status="Failed")
    good = fake.add_history("SF_to_PG", now - timedelta(minutes=10))
    (event,) = events(history_trigger(now - timedelta(hours=1)))
    assert event["status"] == "success"
    assert event["row"]["Id"] == good["Id"]


def test_history_trigger_waits_until_a_run_succeeds(fake):
    since = datetime.now(UTC) - timedelta(seconds=1)
    fake.add_history("SF_to_PG", since - timedelta(hours=1))  # before T: does not count
    end_by = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    (event,) = events(history_trigger(since, end_by=end_by))
    assert event["status"] == "timeout"
    start(fake, ["RUNNING", "SUCCESS"])
    SyncApiHook("sync_fake").get_job_status("SF_to_PG")
    (event,) = events(history_trigger(since))
    assert event["status"] == "success"


def test_async_hook_speaks_basic_auth_too(monkeypatch):
    with FakeSyncServer(token=TOKEN, auth_modes=("basic",)) as server:
        server.add_job("SF_to_PG", QUERIES)
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_BASIC", server.connection(auth_mode="basic"))
        rows = asyncio.run(SyncApiAsyncHook("sync_basic").get_job_status("SF_to_PG"))
        assert rows[0]["Status"] == "NOT STARTED"
        assert "x-cdata-authtoken" not in {k.lower() for k in server.requests[-1].headers}

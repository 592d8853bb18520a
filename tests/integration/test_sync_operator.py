"""SyncJobOperator against the fake CData Sync server: what it starts, when it defers, what the task returns
or how it fails, and that killing the task cancels the remote run."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk.exceptions import TaskDeferred

from airflow_sync.operators.sync_job import SyncJobOperator
from airflow_sync.triggers.sync_job import SyncJobTrigger
from tests.fakes.cdata_sync import FakeSyncServer

TOKEN = "operator-token-0123456789"
QUERIES = ["REPLICATE [Account]", "REPLICATE [Opportunity]"]


@pytest.fixture
def fake(monkeypatch):
    with FakeSyncServer(token=TOKEN) as server:
        server.add_job("SF_to_PG", QUERIES)
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", server.connection())
        yield server


def operator(**kwargs) -> SyncJobOperator:
    kwargs = {"poll_interval": 0.01, "job_name": "SF_to_PG", **kwargs}
    return SyncJobOperator(task_id="run_sync", sync_conn_id="sync_fake", **kwargs)


def run_trigger(trigger: SyncJobTrigger) -> dict:
    async def first():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first(), timeout=30))


def test_execute_starts_the_run_without_waiting_and_defers_to_the_trigger(fake):
    op = operator(timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, SyncJobTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert (trigger.job_name, trigger.sync_conn_id, trigger.poll_interval) == ("SF_to_PG", "sync_fake", 0.01)
    assert trigger.run_start == fake.jobs["SF_to_PG"].history_row["RunStartDate"]
    assert trigger.end_by is not None
    (call,) = fake.calls("executeJob")
    assert call.body["WaitForResults"] == "false"


def test_deferred_run_resumes_with_the_result_rows(fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING", "RUNNING", "SUCCESS"]
    op = operator()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    event = run_trigger(deferred.value.trigger)
    rows = op.execute_complete({}, event)
    assert [(r["Query"], r["Status"]) for r in rows] == [
        (None, "SUCCESS"),
        (QUERIES[0], "SUCCESS"),
        (QUERIES[1], "SUCCESS"),
    ]


def test_deferred_run_that_fails_fails_the_task_with_the_servers_text(fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING", "FAILED"]
    op = operator()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    event = run_trigger(deferred.value.trigger)
    expected = r"failed: REPLICATE \[Opportunity\]: Table \[Account\] could not"
    with pytest.raises(AirflowException, match=expected):
        op.execute_complete({}, event)


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({"status": "cancelled", "message": "Cancelled by ops", "rows": []}, "cancelled: Cancelled by ops"),
        ({"status": "timeout", "message": "late", "rows": []}, "did not finish within 5"),
        ({"status": "error", "message": "401 Unauthorized: bad token", "rows": []}, "bad token"),
    ],
)
def test_execute_complete_fails_on_every_unhappy_event(event, match):
    with pytest.raises(AirflowException, match=match):
        operator(timeout=5).execute_complete({}, event)


def test_a_skipped_run_is_not_a_failure():
    rows = [{"JobName": "SF_to_PG", "Query": None, "Status": "SKIPPED"}]
    assert operator().execute_complete({}, {"status": "skipped", "rows": rows}) == rows


def test_queries_run_through_execute_query(fake):
    rows = operator(queries=[QUERIES[0]], wait_for_completion=False).execute({})
    assert rows[0]["Status"] == "RUNNING"
    (call,) = fake.calls("executeQuery")
    assert call.body["Query#1"] == QUERIES[0] and "Query#2" not in call.body
    assert fake.calls("getJobStatus") == []


def test_non_deferrable_polls_in_the_worker_until_success(fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING", "RUNNING", "RUNNING", "SUCCESS"]
    rows = operator(deferrable=False).execute({})
    assert rows[0]["Status"] == "SUCCESS" and len(rows) == 3
    assert len(fake.calls("getJobStatus")) == 3


def test_non_deferrable_failure_and_timeout(fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING", "FAILED"]
    with pytest.raises(AirflowException, match="permission denied"):
        operator(deferrable=False).execute({})
    fake.add_job("Slow", QUERIES, script=["RUNNING"])
    with pytest.raises(AirflowException, match=r"did not finish within 0\.2s"):
        operator(deferrable=False, timeout=0.2, job_name="Slow").execute({})
    assert fake.jobs["Slow"].status == "RUNNING"  # giving up the wait does not cancel the run


def test_an_unknown_job_fails_at_once_with_the_servers_message(fake):
    op = SyncJobOperator(task_id="t", job_name="nope", sync_conn_id="sync_fake")
    with pytest.raises(Exception, match="The job 'nope' does not exist"):
        op.execute({})


def test_on_kill_cancels_the_remote_run(fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING"]  # runs until cancelled
    op = operator(deferrable=False)
    outcome: dict = {}

    def run():
        try:
            op.execute({})
        except AirflowException as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    while not fake.calls("getJobStatus") and time.monotonic() < deadline:
        time.sleep(0.01)  # poll until the operator is waiting on the run
    op.on_kill()
    worker.join(timeout=20)
    assert len(fake.calls("cancelJob")) == 1
    assert fake.calls("cancelJob")[0].body == {"JobName": "SF_to_PG"}
    assert "cancelled" in outcome["error"]


def test_on_kill_before_anything_started_sends_nothing(fake):
    operator().on_kill()
    assert fake.requests == []


def test_template_fields():
    assert set(SyncJobOperator.template_fields) == {"job_name", "queries"}

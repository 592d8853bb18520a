"""The client side against THIS project's Job API, served by a real uvicorn server on a loopback port
(Airflow's own ``create_app(apps="core")`` with the plugin mounted at ``/api.rsc``) and an API token from
``airflow_sync.api.tokens``.

No scheduler runs here: a stand-in thread plays scheduler and worker by moving the queued DagRun and its task
instances through their states in the metadata DB, as the API tests do. Everything the client sees comes
over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk.exceptions import TaskDeferred

from airflow_sync.hooks.sync_api import SyncApiError, SyncApiHook
from airflow_sync.operators.sync_job import SyncJobOperator
from airflow_sync.sensors.sync_job import SyncJobSensor
from tests.integration.api.jobs_support import active_runs, ensure_connections, job_body, sync_dags, unique

CONN = "sync_live"
QUERIES = ("REPLICATE [orders]", "REPLICATE [customers]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # polling a condition, not waiting for a guessed duration
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def live_api(airflow_db):
    """``http://127.0.0.1:<port>`` of a uvicorn server running Airflow's core app with /api.rsc."""
    import uvicorn

    os.environ["AIRFLOW_SYNC_FORCE_API"] = "1"
    from airflow.api_fastapi.app import create_app

    ensure_connections(airflow_db)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(apps="core"), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_for(lambda: server.started, "uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def token(live_api) -> str:
    from airflow_sync.api import tokens

    return tokens.create_token(f"client-{uuid.uuid4().hex[:6]}", "admin", created_by="pytest")


@pytest.fixture(autouse=True)
def connection(live_api, token, monkeypatch):
    port = int(live_api.rsplit(":", 1)[1])
    conn = {"conn_type": "cdata_sync", "host": "127.0.0.1", "port": port, "password": token}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps({**conn, "extra": {"retry_delay": 0}}))
    basic = {**conn, "login": "anyone", "extra": {"auth_mode": "basic", "retry_delay": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_LIVE_BASIC", json.dumps(basic))


def new_job(prefix: str) -> tuple[str, str]:
    """Create a job over HTTP with the hook, parse its DAG as the dag-processor would; (name, dag id)."""
    name = unique(prefix)
    created = SyncApiHook(CONN).request("POST", "jobs", body=job_body(name, *QUERIES))
    sync_dags()
    return name, created["DagId"]


def stand_in(dag_id: str, outcome: str, *, hold: threading.Event | None = None) -> threading.Thread:
    """Scheduler + worker stand-in: run the queued run's tasks, ending with ``outcome`` (success|failed).

    With ``hold``, the run stays running until the event is set (or the run is cancelled).
    """

    def play() -> None:
        run = _wait_for(lambda: active_runs(dag_id), "the queued run")[0]
        _set_states(
            dag_id, run.run_id, run_state="running", tis={"pre_job": "success", "replicate_orders": "running"}
        )
        if hold is not None:
            hold.wait(timeout=60)
            return
        last = "failed" if outcome == "failed" else "success"
        tis = {"replicate_orders": "success", "replicate_customers": last, "post_job": "success"}
        _set_states(dag_id, run.run_id, run_state=outcome, tis=tis)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def _set_states(dag_id: str, run_id: str, *, run_state: str, tis: dict[str, str]) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import update

    now = datetime.now(UTC)
    done = run_state in ("success", "failed")
    with create_session() as s:
        values = {"state": run_state, "start_date": now, **({"end_date": now} if done else {})}
        s.execute(update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).values(**values))
        for task_id, state in tis.items():
            ti_values = {"state": state, "start_date": now, "try_number": 1, "hostname": "stand-in"}
            if state != "running":
                ti_values["end_date"] = now
            s.execute(
                update(TaskInstance)
                .where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id,
                )
                .values(**ti_values)
            )


def test_hook_basics_over_http_with_both_auth_modes():
    name, _ = new_job("cl_hook")
    for conn_id in (CONN, "sync_live_basic"):
        hook = SyncApiHook(conn_id)
        assert name in {j["JobName"] for j in hook.list_jobs()}
        job = hook.get_job(name)
        assert (job["Query#1"], job["Query#2"]) == QUERIES
    with pytest.raises(SyncApiError) as err:
        SyncApiHook(CONN).get_job(f"{name}_missing")
    assert err.value.status == 404 and name in err.value.message
    status = SyncApiHook(CONN).get_job_status(name)
    assert [r["Status"] for r in status] == ["NOT STARTED"] * 3


def test_operator_polling_in_the_worker_until_success():
    name, dag_id = new_job("cl_poll")
    started = datetime.now(UTC) - timedelta(seconds=1)
    stand_in(dag_id, "success")
    op = SyncJobOperator(task_id="t", job_name=name, sync_conn_id=CONN, deferrable=False, poll_interval=0.1)
    rows = op.execute({})
    assert rows[0]["Query"] is None and rows[0]["Status"] == "SUCCESS"
    assert [(r["Query"], r["Status"]) for r in rows[1:]] == [(q, "SUCCESS") for q in QUERIES]
    (call_run,) = {r["RunId"] for r in rows}
    # the sensor finds that run in the history (server-side $filter this time)
    sensor = SyncJobSensor(task_id="s", job_name=name, sync_conn_id=CONN, since=started.isoformat())
    row = sensor.execute({})
    assert (row["Status"], row["RunId"]) == ("Successful", call_run)


def test_deferred_operator_fails_with_the_run_and_the_subset_was_asked_for():
    name, dag_id = new_job("cl_defer")
    op = SyncJobOperator(
        task_id="t", job_name=name, queries=[QUERIES[1]], sync_conn_id=CONN, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    (run,) = active_runs(dag_id)
    assert trigger.run_id == run.run_id  # this API sends RunId: the trigger watches exactly that run
    assert run.conf.get("queries")  # executeQuery: only the asked query runs
    stand_in(dag_id, "failed")

    async def first():
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(asyncio.wait_for(first(), timeout=60))
    assert event["status"] == "failed"
    with pytest.raises(AirflowException, match="failed"):
        op.execute_complete({}, event)


def test_on_kill_cancels_the_run_through_the_api():
    name, dag_id = new_job("cl_kill")
    hold = threading.Event()
    stand_in(dag_id, "success", hold=hold)
    op = SyncJobOperator(task_id="t", job_name=name, sync_conn_id=CONN, deferrable=False, poll_interval=0.1)
    outcome: dict[str, str] = {}

    def run() -> None:
        try:
            op.execute({})
        except AirflowException as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=run)
    worker.start()
    status = SyncApiHook(CONN)
    _wait_for(lambda: status.get_job_status(name)[0]["Status"] == "RUNNING", "the run to be running")
    op.on_kill()
    worker.join(timeout=60)
    hold.set()
    assert "cancelled" in outcome.get("error", "")
    assert status.get_job_status(name)[0]["Status"] == "CANCELLED"
    assert [h["Status"] for h in status.history(name)] == ["Cancelled"]

"""executeJob / executeQuery against real DAGs parsed from the factory.

There is no scheduler here: a triggered run stays queued unless the test ends it (standing in for the
scheduler) or the job's DAG is run in-process with ``dag.test()`` (real task instances and XComs).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.api.jobs_support import (
    API,
    active_runs,
    create_job,
    ensure_connections,
    finish_run,
    job_body,
    new_destination,
    run_dag_test,
    sync_dags,
    unique,
)

ROW_FIELDS = {
    "JobName",
    "RunId",
    "Query",
    "Status",
    "Result",
    "Detail",
    "RecordsAffected",
    "RunStartDate",
    "RunEndDate",
}


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


def _execute(client, headers, **body):
    return client.post(f"{API}/executeJob", json=body, headers=headers)


def test_execute_without_waiting_queues_one_run_with_version_conf(api_client, admin):
    name = unique("exq")
    job = create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]")
    r = _execute(api_client, admin, JobName=name, WaitForResults="false")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("$metadata#Collection(CData.executeJobOutput)")
    rows = body["value"]
    assert [row["Query"] for row in rows] == [None, "REPLICATE [orders]", "REPLICATE [customers]"]
    assert all(set(row) == ROW_FIELDS for row in rows)
    assert rows[0]["Status"] == "QUEUED" and rows[0]["RunId"]
    (run,) = active_runs(job["DagId"])
    assert run.run_id == rows[0]["RunId"]
    assert run.conf["job_version"] and run.conf["job_id"] == job["JobId"]
    assert "queries" not in run.conf
    assert run.run_type == "manual" and run.triggered_by.value == "rest_api"
    assert run.triggering_user_name == "admin"
    # a second execute while queued: 409, still one run
    r = _execute(api_client, admin, JobName=name, WaitForResults="false")
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobRunning"
    # modify / delete while queued: 409, nothing changed
    r = api_client.put(f"{API}/jobs('{name}')", json={"Verbosity": "4"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobRunning"
    r = api_client.delete(f"{API}/jobs('{name}')", headers=admin)
    assert r.status_code == 409
    assert api_client.get(f"{API}/jobs('{name}')", headers=admin).json()["Verbosity"] == "2"
    finish_run(job["DagId"], run.run_id)


def test_two_concurrent_executes_start_exactly_one_run(api_client, admin):
    name = unique("conc")
    job = create_job(api_client, admin, name)
    barrier = threading.Barrier(4)

    def call(_):
        barrier.wait()
        return _execute(api_client, admin, JobName=name, WaitForResults="false")

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(r.status_code for r in pool.map(call, range(4)))
    assert statuses == [200, 409, 409, 409]
    runs = active_runs(job["DagId"])
    assert len(runs) == 1
    finish_run(job["DagId"], runs[0].run_id)


def test_wait_for_results_returns_when_the_run_ends(api_client, admin):
    name = unique("wait")
    job = create_job(api_client, admin, name)
    result = {}

    def call():
        result["r"] = _execute(api_client, admin, JobName=name, WaitForResults="true", Timeout="60")

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 30
    while not active_runs(job["DagId"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    (run,) = active_runs(job["DagId"])
    time.sleep(0.5)
    assert t.is_alive(), "executeJob returned before the run ended"
    finish_run(job["DagId"], run.run_id, "success")
    t.join(30)
    r = result["r"]
    assert r.status_code == 200, r.text
    assert r.json()["value"][0]["Status"] == "SUCCESS"
    assert r.json()["value"][0]["Detail"] == "Completed"


def test_wait_timeout_returns_current_rows_and_the_run_goes_on(api_client, admin):
    name = unique("tmo")
    job = create_job(api_client, admin, name)
    t0 = time.monotonic()
    r = _execute(api_client, admin, JobName=name, Timeout=1)  # WaitForResults defaults to true
    assert r.status_code == 200, r.text
    assert 0.9 <= time.monotonic() - t0 < 15
    assert r.json()["value"][0]["Status"] == "QUEUED"
    (run,) = active_runs(job["DagId"])
    finish_run(job["DagId"], run.run_id)


def test_legacy_async_and_execution_type_fields(api_client, admin):
    name = unique("leg")
    job = create_job(api_client, admin, name)
    t0 = time.monotonic()
    r = _execute(api_client, admin, JobName=name, Async="True", ExecutionType="Run", WorkspaceId="default")
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 < 10
    assert r.json()["value"][0]["Status"] == "QUEUED"
    finish_run(job["DagId"], active_runs(job["DagId"])[0].run_id)


def test_execute_by_job_id_and_unknown_job(api_client, admin):
    name = unique("jid")
    job = create_job(api_client, admin, name)
    r = _execute(api_client, admin, JobId=job["JobId"], WaitForResults=False)
    assert r.status_code == 200, r.text and r.json()["value"][0]["JobName"] == name
    finish_run(job["DagId"], active_runs(job["DagId"])[0].run_id)
    r = _execute(api_client, admin, JobName=f"nope_{name}", WaitForResults=False)
    assert r.status_code == 404 and r.json()["error"]["code"] == "JobNotFound"
    r = _execute(api_client, admin, WaitForResults=False)
    assert r.status_code == 400 and "JobName" in r.json()["error"]["message"]
    r = _execute(api_client, admin, JobName=name, WaitForResults="maybe")
    assert r.status_code == 400 and "WaitForResults" in r.json()["error"]["message"]
    r = _execute(api_client, admin, JobName=name, Timeout="-3")
    assert r.status_code == 400 and "Timeout" in r.json()["error"]["message"]
    assert active_runs(job["DagId"]) == []


def test_execute_right_after_create_waits_for_the_dag(api_client, admin):
    name = unique("fresh")
    r = api_client.post(f"{API}/jobs", json=job_body(name), headers=admin)
    assert r.status_code == 201
    # the dag-processor's part, a moment after the create
    timer = threading.Timer(1.0, sync_dags)
    timer.start()
    r = _execute(api_client, admin, JobName=name, WaitForResults=False)
    timer.join()
    assert r.status_code == 200, r.text
    runs = active_runs(f"sync__{name}")
    assert len(runs) == 1
    finish_run(f"sync__{name}", runs[0].run_id)


def test_execute_refuses_stale_dag_and_import_errors(api_client, admin):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from airflow_sync.api import routes
    from airflow_sync.api.routes import actions

    name = unique("stale")
    job = create_job(api_client, admin, name)
    with create_session() as s:
        s.execute(update(DagModel).where(DagModel.dag_id == job["DagId"]).values(has_import_errors=True))
    r = _execute(api_client, admin, JobName=name, WaitForResults=False)
    assert r.status_code == 409 and r.json()["error"]["code"] == "DagImportError", r.text
    assert "import errors" in r.json()["error"]["message"]
    with create_session() as s:
        s.execute(
            update(DagModel)
            .where(DagModel.dag_id == job["DagId"])
            .values(has_import_errors=False, is_stale=True)
        )
    old = actions.DAG_WAIT_SECONDS
    actions.DAG_WAIT_SECONDS = 1.0  # the stale DAG never comes back here: don't wait the full 30 s
    try:
        r = _execute(api_client, admin, JobName=name, WaitForResults=False)
    finally:
        actions.DAG_WAIT_SECONDS = old
    assert r.status_code == 409 and r.json()["error"]["code"] == "DagNotReady", r.text
    assert active_runs(job["DagId"]) == []
    assert routes  # imported for the module path above


def test_execute_query_runs_only_the_named_queries(api_client, admin):
    name = unique("exqy")
    job = create_job(
        api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]", "REPLICATE [items]"
    )
    body = {"JobName": name, "Query#1": "  REPLICATE\n [items] ", "Query#2": "REPLICATE [orders]"}
    r = api_client.post(f"{API}/executeQuery", json={**body, "WaitForResults": "false"}, headers=admin)
    assert r.status_code == 200, r.text
    rows = r.json()["value"]
    assert r.json()["@odata.context"].endswith("Collection(CData.executeQueryOutput)")
    assert [row["Query"] for row in rows] == [None, "REPLICATE [orders]", "REPLICATE [items]"]
    (run,) = active_runs(job["DagId"])
    assert run.conf["queries"] == ["replicate_orders", "replicate_items"]
    finish_run(job["DagId"], run.run_id)


def test_execute_query_unknown_query_is_400_naming_it(api_client, admin):
    name = unique("exqn")
    job = create_job(api_client, admin, name, "REPLICATE [orders]")
    body = {"JobName": name, "Query#1": "REPLICATE [orders]", "Query#2": "REPLICATE [nothere]"}
    r = api_client.post(f"{API}/executeQuery", json={**body, "WaitForResults": "false"}, headers=admin)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "UnknownQuery"
    assert "Query#2" in r.json()["error"]["message"] and "nothere" in r.json()["error"]["message"]
    r = api_client.post(f"{API}/executeQuery", json={"JobName": name}, headers=admin)
    assert r.status_code == 400
    assert active_runs(job["DagId"]) == []


def test_dag_test_run_subset_conf_skips_the_others(api_client, admin):
    name = unique("sub")
    dst = new_destination()
    create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]", Destination=dst)
    dr = run_dag_test(name, {"queries": ["replicate_customers"]})
    assert dr.state == "success"
    r = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin)
    rows = r.json()["value"]
    assert [(row["Query"], row["Status"]) for row in rows] == [
        (None, "SUCCESS"),
        ("REPLICATE [orders]", "SKIPPED"),
        ("REPLICATE [customers]", "SUCCESS"),
    ]
    assert rows[2]["RecordsAffected"] == "3" and rows[2]["Detail"] == "3 records"


def test_waiting_clients_hold_no_server_thread(api_client, admin):
    """More waiting executeJob calls than the server has worker threads: all wait concurrently and the
    server keeps answering other requests meanwhile (a thread per waiting request would serialise them)."""
    n, wait = 45, 6  # 45 > anyio's 40 worker threads and > asyncio's default executor
    names = [unique("many") for _ in range(n)]
    for name in names:
        create_job(api_client, admin, name, sync=False)
    sync_dags()
    results = []

    def call(name):
        return _execute(api_client, admin, JobName=name, Timeout=wait)

    t0 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(call, name) for name in names]
        time.sleep(wait / 2)
        t_get = time.monotonic()
        r = api_client.get(f"{API}/jobs/$count", headers=admin)
        get_seconds = time.monotonic() - t_get
        assert r.status_code == 200
        results = [f.result() for f in futures]
    total = time.monotonic() - t0
    assert [r.status_code for r in results] == [200] * n
    assert {r.json()["value"][0]["Status"] for r in results} == {"QUEUED"}
    assert get_seconds < wait, f"the server stalled {get_seconds:.1f} s while clients waited"
    assert total < 4 * wait, f"{n} waits of {wait} s took {total:.1f} s: they did not overlap"
    for name in names:
        for run in active_runs(f"sync__{name}"):
            finish_run(f"sync__{name}", run.run_id)

"""cancelJob and getJobStatus on real DagRuns / TaskInstances (cancel = Airflow's mark-failed + note)."""

from __future__ import annotations

import pytest

from tests.integration.api.jobs_support import (
    API,
    active_runs,
    create_job,
    ensure_connections,
    new_destination,
    run_dag_test,
    unique,
)


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


def _set_running(dag_id: str, run_id: str, task_id: str) -> None:
    """Stand in for the scheduler and a worker: the run is running, one query task is running."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from sqlalchemy import update

    now = timezone.utcnow()
    with create_session() as s:
        s.execute(
            update(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            .values(state="running", start_date=now)
        )
        s.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .where(TaskInstance.task_id.in_(["pre_job"]))
            .values(state="success", start_date=now, end_date=now, try_number=1)
        )
        s.execute(
            update(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
            .values(state="running", start_date=now, try_number=1, hostname="worker-7")
        )


def _run(dag_id: str, run_id: str):
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        run = s.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        tis = {
            ti.task_id: ti.state
            for ti in s.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            )
        }
        return run.state, run.note, tis


def _conf(dag_id: str, run_id: str) -> dict:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        return dict(s.scalar(select(DagRun.conf).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)))


def test_cancel_running_run_marks_it_failed_with_a_note(api_client, admin, token_headers):
    name = unique("can")
    job = create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]")
    r = api_client.post(f"{API}/executeJob", json={"JobName": name, "WaitForResults": "false"}, headers=admin)
    run_id = r.json()["value"][0]["RunId"]
    _set_running(job["DagId"], run_id, "replicate_orders")
    status = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin).json()
    assert [row["Status"] for row in status["value"]] == ["RUNNING", "RUNNING", "QUEUED"]

    # refused callers change nothing
    for headers in (token_headers("standard"), token_headers("viewer")):
        r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=headers)
        assert r.status_code == 403, r.text
    assert _run(job["DagId"], run_id)[0] == "running"

    r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=token_headers("support"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("Collection(CData.cancelJobOutput)")
    (row,) = body["value"]
    assert row["JobName"] == name and row["Status"] == "CANCELLED" and row["RunId"] == run_id

    state, note, tis = _run(job["DagId"], run_id)
    assert note.startswith("Cancelled via API by test-support-")
    # the note does not reach task processes; the conf carries the marker to the post_job teardown
    assert _conf(job["DagId"], run_id)["cancelled_by"].startswith("test-support-")
    assert tis["replicate_orders"] == "failed" and tis["replicate_customers"] == "skipped"
    assert state in ("failed", "running")  # running only while the post_job teardown finishes

    status = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin).json()
    assert status["Status"] == "CANCELLED"
    assert [(q["Query"], q["Status"]) for q in status["Queries"]] == [
        ("REPLICATE [orders]", "CANCELLED"),
        ("REPLICATE [customers]", "SKIPPED"),
    ]
    hist = api_client.get(f"{API}/history?JobName={name}", headers=admin).json()["value"]
    assert [h["Status"] for h in hist] == ["Cancelled"]
    assert hist[0]["Details"].startswith("Cancelled via API") and hist[0]["InstanceId"] == "worker-7"

    # the cancelled run is still finishing (its post_job teardown): DELETE and PUT say JobRunning ...
    r = api_client.delete(f"{API}/jobs('{name}')", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobRunning"
    # ... and a second cancelJob ends it now, teardown included (a paused DAG would never run it)
    r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=admin)
    assert r.status_code == 200 and r.json()["value"][0]["Status"] == "CANCELLED", r.text
    state, note, tis = _run(job["DagId"], run_id)
    assert state == "failed" and tis["post_job"] == "skipped" and "second cancel" in note
    # nothing left to cancel
    r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobNotRunning"
    # and a new run may start
    r = api_client.post(f"{API}/executeJob", json={"JobName": name, "WaitForResults": "0"}, headers=admin)
    assert r.status_code == 200, r.text
    api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=admin)


def test_cancel_queued_run(api_client, admin):
    name = unique("canq")
    job = create_job(api_client, admin, name)
    r = api_client.post(f"{API}/executeJob", json={"JobName": name, "WaitForResults": False}, headers=admin)
    run_id = r.json()["value"][0]["RunId"]
    r = api_client.post(f"{API}/cancelJob", data={"JobName": name}, headers=admin)  # form body
    assert r.status_code == 200, r.text
    state, note, tis = _run(job["DagId"], run_id)
    # nothing ran: the run ends at once, no teardown to wait for
    assert state == "failed" and note.startswith("Cancelled via API by admin")
    assert tis["replicate_orders"] == "skipped" and tis["post_job"] == "skipped"
    r = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin)
    assert r.json()["Status"] == "CANCELLED"
    r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=admin)
    assert r.status_code == 409
    assert active_runs(job["DagId"]) == []


def test_cancel_when_not_running_and_unknown(api_client, admin):
    name = unique("cann")
    create_job(api_client, admin, name, sync=False)
    r = api_client.post(f"{API}/cancelJob", json={"JobName": name}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobNotRunning"
    r = api_client.post(f"{API}/cancelJob", json={"JobName": f"x{name}"}, headers=admin)
    assert r.status_code == 404


def test_status_of_never_run_job_and_push_on_query(api_client, admin):
    name = unique("st0")
    job = create_job(api_client, admin, name, "REPLICATE [orders]", sync=False)
    body = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin).json()
    assert body["JobName"] == name and body["JobId"] == job["JobId"] and body["Status"] == "NOT STARTED"
    assert [r["Status"] for r in body["value"]] == ["NOT STARTED", "NOT STARTED"]
    body = api_client.post(
        f"{API}/getJobStatus", json={"JobName": name, "PushOnQuery": "false"}, headers=admin
    ).json()
    assert len(body["value"]) == 1 and body["value"][0]["Query"] is None


def test_status_rows_from_a_real_successful_run(api_client, admin):
    name = unique("stok")
    dst = new_destination()
    create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]", Destination=dst)
    dr = run_dag_test(name)
    assert dr.state == "success"
    body = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin).json()
    job_row, orders, customers = body["value"]
    assert job_row["Status"] == "SUCCESS" and job_row["Detail"] == "Completed"
    assert job_row["RecordsAffected"] == "8" and job_row["RunId"] == dr.run_id
    assert job_row["Result"] is None
    assert job_row["RunStartDate"].endswith("+00:00") and job_row["RunEndDate"].endswith("+00:00")
    assert (orders["Status"], orders["RecordsAffected"], orders["Detail"]) == ("SUCCESS", "5", "5 records")
    assert (customers["Status"], customers["RecordsAffected"]) == ("SUCCESS", "3")


def test_status_rows_of_a_failed_query_carry_its_error(api_client, admin):
    name = unique("stfail")
    create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [no_such_table]")
    dr = run_dag_test(name)
    assert dr.state == "failed"
    body = api_client.post(f"{API}/getJobStatus", json={"JobName": name}, headers=admin).json()
    job_row, orders, missing = body["value"]
    assert job_row["Status"] == "FAILED" and job_row["Detail"] == "1 of 2 Tasks Failed"
    assert orders["Status"] == "SUCCESS"
    assert missing["Status"] == "FAILED" and "no_such_table" in missing["Result"]
    assert "no_such_table" in job_row["Result"]


def test_status_of_all_jobs_is_one_row_per_visible_job(api_client, admin, token_headers):
    name = unique("stall")
    create_job(api_client, admin, name, sync=False)
    body = api_client.post(f"{API}/getJobStatus", json={}, headers=token_headers("viewer")).json()
    rows = [r for r in body["value"] if r["JobName"] == name]
    assert rows == [{**rows[0], "Query": None, "Status": "NOT STARTED"}]
    assert all(r["Query"] is None for r in body["value"])
    assert "JobName" not in body

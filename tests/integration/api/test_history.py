"""history: rows from real DagRuns of Sync DAGs (API, dag.test and core-API/UI triggers), OData, $count,
runs of deleted jobs kept."""

from __future__ import annotations

import re

import pytest

from tests.integration.api.jobs_support import (
    API,
    create_job,
    ensure_connections,
    new_destination,
    run_dag_test,
    unique,
)

FIELDS = {
    "Id",
    "RunId",
    "JobId",
    "JobName",
    "RunStartDate",
    "RunEndDate",
    "Status",
    "Details",
    "Runtime",
    "RecordsAffected",
    "RunType",
    "LogFile",
    "InstanceId",
}


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


@pytest.fixture(scope="module")
def two_runs(api_client, jwt_headers):
    """A job with a successful dag.test run and a run triggered like the Airflow UI does (core API)."""
    admin = jwt_headers("admin")
    name = unique("hist")
    dst = new_destination()
    job = create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]", Destination=dst)
    ok = run_dag_test(name)
    assert ok.state == "success"
    r = api_client.post(
        f"/api/v2/dags/{job['DagId']}/dagRuns", json={"logical_date": None}, headers=admin
    )  # the UI's "Trigger" button
    assert r.status_code == 200, r.text
    return name, job, ok.run_id, r.json()["dag_run_id"]


def test_rows_have_the_cdata_shape(api_client, admin, two_runs):
    name, job, ok_run, ui_run = two_runs
    r = api_client.get(f"{API}/history?JobName={name}", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("$metadata#history")
    rows = body["value"]
    assert [row["RunId"] for row in rows] == [ui_run, ok_run]  # newest first
    assert all(set(row) == FIELDS for row in rows)
    ui, ok = rows
    assert ok["Status"] == "Successful" and ok["Details"] == "Completed"
    assert ok["RecordsAffected"] == "8" and ok["JobId"] == job["JobId"] and ok["JobName"] == name
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", ok["Runtime"])
    assert ok["RunType"] == "manual" and ok["Id"].isdigit()
    assert ok["RunStartDate"].endswith("+00:00") and ok["RunEndDate"].endswith("+00:00")
    assert ok["LogFile"] == f"dag_id={job['DagId']}/run_id={ok_run}"
    assert ok["InstanceId"]  # the host that ran the tasks
    assert ui["Status"] == "Queued" and ui["RunEndDate"] is None and ui["JobId"] == job["JobId"]


def test_odata_filter_orderby_top_select_and_count(api_client, admin, two_runs):
    name, _, ok_run, ui_run = two_runs
    q = f"$filter=JobName eq '{name}'&$orderby=RunStartDate desc&$top=1"
    rows = api_client.get(f"{API}/history?{q}", headers=admin).json()["value"]
    assert [r["RunId"] for r in rows] == [ui_run]
    q = f"$filter=JobName eq '{name}' and RecordsAffected gt 7&$select=Id,Status"
    rows = api_client.get(f"{API}/history?{q}", headers=admin).json()["value"]
    assert len(rows) == 1 and set(rows[0]) == {"Id", "Status"} and rows[0]["Status"] == "Successful"
    q = f"$filter=startswith(JobName,'{name[:6]}') and not (Status eq 'Queued')&$orderby=Id asc"
    rows = api_client.get(f"{API}/history?{q}", headers=admin).json()["value"]
    assert ok_run in [r["RunId"] for r in rows] and ui_run not in [r["RunId"] for r in rows]
    r = api_client.get(f"{API}/history/$count?$filter=JobName eq '{name}'", headers=admin)
    assert r.status_code == 200 and r.text == "2"
    body = api_client.get(f"{API}/history?$filter=JobName eq '{name}'&$top=1&$count=true", headers=admin)
    assert body.json()["@odata.count"] == 2 and len(body.json()["value"]) == 1
    r = api_client.get(f"{API}/history?$filter=JobName eq", headers=admin)
    assert r.status_code == 400 and "$filter" in r.json()["error"]["message"]
    r = api_client.get(f"{API}/history?$orderby=Nope desc", headers=admin)
    assert r.status_code == 400


def test_history_single_row_and_wrong_method(api_client, admin, two_runs):
    name, _, ok_run, _ = two_runs
    rows = api_client.get(f"{API}/history?JobName={name}", headers=admin).json()["value"]
    one = api_client.get(f"{API}/history({rows[1]['Id']})", headers=admin)
    assert one.status_code == 200 and one.json()["RunId"] == ok_run
    assert api_client.get(f"{API}/history(999999999)", headers=admin).status_code == 404
    assert api_client.put(f"{API}/history", json={}, headers=admin).status_code == 405
    assert api_client.get(f"{API}/history").status_code == 401


def test_history_of_a_deleted_job_is_kept(api_client, admin, token_headers):
    name = unique("histdel")
    create_job(api_client, admin, name, "REPLICATE [customers]")
    run = run_dag_test(name)
    assert api_client.delete(f"{API}/jobs('{name}')", headers=admin).status_code == 204
    rows = api_client.get(f"{API}/history?JobName={name}", headers=token_headers("viewer")).json()["value"]
    assert [(r["RunId"], r["Status"], r["JobName"]) for r in rows] == [(run.run_id, "Successful", name)]
    assert rows[0]["JobId"]  # from the run conf written at trigger time

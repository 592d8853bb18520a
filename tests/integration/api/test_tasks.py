"""The tasks entity set against a real Airflow: every task change is a job change (stored query list, DAG,
version, running-job refusal), TaskIds stay, Index stays dense, executeQuery takes a TaskId."""

from __future__ import annotations

import pytest

from tests.integration.api.jobs_support import (
    API,
    active_runs,
    create_job,
    ensure_connections,
    finish_run,
    sync_dags,
    unique,
)


@pytest.fixture(scope="module")
def admin(api_client, airflow_home, token_headers) -> dict[str, str]:
    ensure_connections(airflow_home)
    return token_headers("admin")


def _tasks(client, headers, job) -> list[dict]:
    r = client.get(f"{API}/tasks('{job}')", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["value"]


def _queries(client, headers, job) -> list[str]:
    entity = client.get(f"{API}/jobs('{job}')", headers=headers).json()
    return [entity[f"Query#{n}"] for n in range(1, 100) if f"Query#{n}" in entity]


def _dag_task_ids(job) -> list[str]:
    return sorted(sync_dags().get_dag(f"sync__{job}").task_ids)


def test_tasks_are_the_jobs_queries_and_edits_keep_ids_dense_and_the_dag_stable(api_client, admin):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", "REPLICATE [customers]")
    first = _tasks(api_client, admin, job)
    assert [(t["Index"], t["Query"], t["Table"], t["JobName"]) for t in first] == [
        ("1", "REPLICATE [orders]", "orders", job),
        ("2", "REPLICATE [customers]", "customers", job),
    ]
    orders_id, customers_id = (t["TaskId"] for t in first)
    assert all(len(t["TaskId"]) == 19 and t["TaskId"].isdigit() for t in first)
    assert first[0]["RowVersion"] == first[1]["RowVersion"]
    dag_before = _dag_task_ids(job)

    # add by Table at Index 1: later tasks shift
    r = api_client.post(f"{API}/tasks", json={"JobName": job, "Table": "items", "Index": "1"}, headers=admin)
    assert r.status_code == 201, r.text
    added = r.json()
    assert (added["Index"], added["Query"], added["Table"]) == ("1", "REPLICATE [items]", "items")
    assert added["@odata.context"].endswith("$metadata#tasks/$entity")
    tasks = _tasks(api_client, admin, job)
    assert [(t["TaskId"], t["Index"]) for t in tasks] == [
        (added["TaskId"], "1"),
        (orders_id, "2"),
        (customers_id, "3"),
    ]
    assert _queries(api_client, admin, job) == [
        "REPLICATE [items]",
        "REPLICATE [orders]",
        "REPLICATE [customers]",
    ]
    assert tasks[0]["RowVersion"] != first[0]["RowVersion"]  # a job change
    dag_after = _dag_task_ids(job)
    assert set(dag_before) < set(dag_after) and "replicate_items" in dag_after  # the DAG followed; ids kept

    # change a task's query (PUT tasks('job') with TaskId) and move one (PUT tasks, Index)
    r = api_client.put(
        f"{API}/tasks('{job}')",
        json={"TaskId": customers_id, "Query": "REPLICATE [customers] WITH DropTable"},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["TaskId"] == customers_id and r.json()["Index"] == "3"
    r = api_client.put(
        f"{API}/tasks", json={"JobName": job, "TaskId": customers_id, "Index": 1}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert [t["TaskId"] for t in _tasks(api_client, admin, job)] == [customers_id, added["TaskId"], orders_id]
    assert _queries(api_client, admin, job)[0] == "REPLICATE [customers] WITH DropTable"

    # PUT tasks('job') without a TaskId adds (at the end)
    r = api_client.put(
        f"{API}/tasks('{job}')",
        json={"Query": "REPLICATE [orders_copy] SELECT * FROM [orders]"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["Index"] == "4" and r.json()["Table"] == "orders"

    # remove: the later ones move up, ids stay
    r = api_client.delete(f"{API}/tasks", params={"JobName": job, "TaskId": added["TaskId"]}, headers=admin)
    assert r.status_code == 204
    tasks = _tasks(api_client, admin, job)
    assert [t["Index"] for t in tasks] == ["1", "2", "3"]
    assert [t["TaskId"] for t in tasks][:2] == [customers_id, orders_id]
    assert _dag_task_ids(job) == sorted(
        ["pre_job", "post_job", "finish", "replicate_customers", "replicate_orders", "replicate_orders_copy"]
    )
    # a PUT /jobs that sends the same queries again keeps their TaskIds
    body = {f"Query#{n}": t["Query"] for n, t in enumerate(tasks, start=1)}
    assert api_client.put(f"{API}/jobs('{job}')", json=body, headers=admin).status_code == 200
    assert [t["TaskId"] for t in _tasks(api_client, admin, job)] == [t["TaskId"] for t in tasks]


def test_lookups_odata_and_count(api_client, admin, token_headers):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", "REPLICATE [customers]", sync=False)
    viewer = token_headers("viewer")
    tasks = _tasks(api_client, viewer, job)
    one = api_client.get(f"{API}/tasks('{tasks[1]['TaskId']}')", headers=viewer).json()["value"]
    assert one == [tasks[1]]
    by_id = api_client.get(f"{API}/Tasks(JobId='{tasks[0]['JobId']}')", headers=viewer).json()["value"]
    assert by_id == tasks
    r = api_client.get(
        f"{API}/tasks",
        params={
            "$filter": f"JobName eq '{job}'",
            "$orderby": "Index desc",
            "$select": "Index,Table",
            "$count": "true",
        },
        headers=viewer,
    )
    assert r.json()["value"] == [{"Index": "2", "Table": "customers"}, {"Index": "1", "Table": "orders"}]
    assert r.json()["@odata.count"] == 2
    assert api_client.get(f"{API}/tasks/$count", params={"JobName": job}, headers=viewer).text == "2"
    none = api_client.get(f"{API}/tasks", params={"$filter": "JobName eq 'no_such_job'"}, headers=viewer)
    assert none.status_code == 200 and none.json()["value"] == []
    assert api_client.get(f"{API}/tasks", params={"JobName": job}, headers=viewer).json()["value"] == tasks
    missing = api_client.get(f"{API}/tasks('no_such_job')", headers=viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "JobNotFound"


@pytest.mark.parametrize(
    ("method", "body", "status", "target"),
    [
        ("post", {"Query": "REPLICATE [x]"}, 400, "JobName"),
        ("post", {"JobName": "@job"}, 400, "Query"),
        ("post", {"JobName": "@job", "Query": "REPLICATE [x"}, 400, "Query"),
        ("post", {"JobName": "@job", "Table": "[x"}, 400, "Table"),
        ("post", {"JobName": "@job", "Query": "REPLICATE [x]", "Index": "4"}, 400, "Index"),
        ("post", {"JobName": "@job", "Query": "REPLICATE [x]", "Colour": "red"}, 400, "Colour"),
        ("post", {"JobName": "@job", "Query": "REPLICATE [x]", "RowVersion": "0000"}, 409, None),
        ("post", {"JobName": "nope_job", "Query": "REPLICATE [x]"}, 404, None),
        ("put", {"JobName": "@job", "TaskId": "1234"}, 400, "Query"),
        ("put", {"JobName": "@job", "TaskId": "1234", "Query": "REPLICATE [x]"}, 404, "TaskId"),
        ("put", {"JobName": "@job", "TaskId": "@task", "Index": 3}, 400, "Index"),
        ("put", {"JobName": "@job", "TaskId": "abc", "Query": "REPLICATE [x]"}, 400, "TaskId"),
    ],
)
def test_refusals_change_nothing(api_client, admin, method, body, status, target):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", "REPLICATE [customers]", sync=False)
    before = _tasks(api_client, admin, job)
    body = {k: job if v == "@job" else before[0]["TaskId"] if v == "@task" else v for k, v in body.items()}
    r = getattr(api_client, method)(f"{API}/tasks", json=body, headers=admin)
    assert r.status_code == status, r.text
    if target:
        assert r.json()["error"]["target"] == target
    assert _tasks(api_client, admin, job) == before


def test_a_running_job_refuses_task_changes_and_execute_query_takes_task_ids(api_client, admin):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", "REPLICATE [customers]")
    tasks = _tasks(api_client, admin, job)
    r = api_client.post(
        f"{API}/executeQuery",
        json={"JobName": job, "Query#1": tasks[1]["TaskId"], "WaitForResults": "false"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert [row["Query"] for row in r.json()["value"][1:]] == ["REPLICATE [customers]"]
    (run,) = active_runs(f"sync__{job}")
    assert run.conf["queries"] == ["replicate_customers"]
    for method, kwargs in (
        ("post", {"json": {"JobName": job, "Table": "items"}}),
        ("put", {"json": {"JobName": job, "TaskId": tasks[0]["TaskId"], "Index": 2}}),
        ("delete", {"params": {"JobName": job, "TaskId": tasks[0]["TaskId"]}}),
    ):
        r = getattr(api_client, method)(f"{API}/tasks", headers=admin, **kwargs)
        assert r.status_code == 409 and r.json()["error"]["code"] == "JobRunning", r.text
    assert _tasks(api_client, admin, job) == tasks
    finish_run(run.dag_id, run.run_id)
    r = api_client.delete(
        f"{API}/tasks", params={"TaskId": tasks[0]["TaskId"]}, headers=admin
    )  # job found by id
    assert r.status_code == 204


def test_who_may_change_tasks(api_client, admin, token_headers, jwt_headers):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", sync=False)
    body = {"JobName": job, "Table": "customers"}
    for headers in (token_headers("viewer"), token_headers("standard"), jwt_headers("viewer")):
        assert api_client.post(f"{API}/tasks", json=body, headers=headers).status_code == 403
    assert api_client.post(f"{API}/tasks", json=body, headers=token_headers("job_creator")).status_code == 201
    assert api_client.post(f"{API}/tasks", data=body, headers=jwt_headers("user")).status_code == 201
    assert len(_tasks(api_client, admin, job)) == 3


def test_if_match_and_row_version_guard_task_changes(api_client, admin):
    job = unique()
    create_job(api_client, admin, job, "REPLICATE [orders]", sync=False)
    (task,) = _tasks(api_client, admin, job)
    etag = api_client.get(f"{API}/jobs('{job}')", headers=admin).headers["ETag"]
    assert etag == f'"{task["RowVersion"]}"'  # a task's RowVersion is its job's version
    stale = {**admin, "If-Match": '"0123456789abcdef"'}
    r = api_client.post(f"{API}/tasks", json={"JobName": job, "Table": "items"}, headers=stale)
    assert r.status_code == 409 and r.json()["error"]["code"] == "JobConflict"
    r = api_client.post(
        f"{API}/tasks", json={"JobName": job, "Table": "items"}, headers={**admin, "If-Match": etag}
    )
    assert r.status_code == 201
    # the task list changed the job: the old RowVersion no longer matches
    r = api_client.delete(
        f"{API}/tasks",
        params={"JobName": job, "TaskId": task["TaskId"], "RowVersion": task["RowVersion"]},
        headers=admin,
    )
    assert r.status_code == 409
    assert len(_tasks(api_client, admin, job)) == 2

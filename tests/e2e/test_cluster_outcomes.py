"""Run outcomes on the distributed deployment (issue #14), on the same cluster as ``test_cluster`` (the
``cluster`` fixture of ``tests/e2e/conftest.py``): cancel
against the destination with Celery workers, a worker lost during post_job, and executeJob right after a
create never waiting for the dag-processor's next loop.

Only the API acts; the metadata DB and the databases are read to observe (which worker, what is there).
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import time

import pytest

from tests.e2e.cancel_support import (
    SLOW_DEST_DDL,
    Case,
    active,
    assert_truthful,
    pg,
    print_table,
    rows,
    run_case,
)
from tests.e2e.cluster_data import DST_DB, ITEMS, META_DB, RUN_TIMEOUT, SRC_DB
from tests.e2e.cluster_support import HOSTS, Cluster, wait_for
from tests.e2e.test_cluster import _job, _rows, _run_to_end

#: create-then-execute sequences; 100 for the measurement in the report, fewer in CI
SEQUENCES = int(os.environ.get("AIRFLOW_SYNC_CREATE_EXECUTE_N", "10"))
#: keep the jobs (the store grows, a parse of the shim takes longer: the dropped-request race gets likelier)
KEEP_JOBS = os.environ.get("AIRFLOW_SYNC_CREATE_EXECUTE_KEEP") == "1"
#: other users edit a job all the while: the dag-processor is nearly always parsing the shim when a job is
#: created, which is when it drops the new job's parse request
CHURN = os.environ.get("AIRFLOW_SYNC_CREATE_EXECUTE_CHURN") == "1"
#: another job is saved right before each create, so the shim is being parsed when the new job lands
PROVOKE = os.environ.get("AIRFLOW_SYNC_CREATE_EXECUTE_PROVOKE") == "1"


@pytest.fixture(scope="module", autouse=True)
def _every_worker_up(cluster: Cluster):
    """test_cluster loses a worker on purpose: start it again, so every test here has two."""
    for worker in HOSTS.values():
        if not cluster.status().get(worker):
            cluster.revive(worker)
    with pg(DST_DB) as c:
        for stmt in SLOW_DEST_DDL:
            c.execute(stmt)
        c.execute("CREATE TABLE postjob_log (run text)")


def test_cancel_on_the_cluster_answers_what_the_destination_holds(cluster: Cluster):
    cases = [
        Case(
            "while reading the source",
            "clx_read",
            "clx_read",
            {"Query#1": "REPLICATE [clx_read] SELECT * FROM [items_slower]"},
            lambda: active(SRC_DB, "%items_slower%"),
        ),
        Case(
            "last moment before COMMIT",
            "clx_commit",
            "c_commit.clx_commit",
            {"Query#1": "REPLICATE [clx_commit] SELECT * FROM [items]", "CacheSchema": "c_commit"},
            lambda: active(DST_DB, 'DELETE FROM "c_commit"."_airflow_sync_state"%'),
        ),
        Case(
            "during COMMIT",
            "clx_during",
            "c_during.c_during",
            {
                # the target's columns (SLOW_DEST_DDL) from this cluster's items table
                "Query#1": "REPLICATE [c_during] SELECT id, name, price, created AS updated FROM [items]",
                "CacheSchema": "c_during",
            },
            lambda: active(DST_DB, "COMMIT"),
        ),
        Case(
            "after the last COMMIT (PostJob running)",
            "clx_late",
            "clx_late",
            {"Query#1": "REPLICATE [clx_late] SELECT * FROM [items]", "PostJob": "sql: SELECT pg_sleep(7)"},
            lambda: active(DST_DB, "SELECT pg_sleep(7)%"),
        ),
    ]
    api = cluster.api(1)
    with cluster.logs_on_failure(), concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        futures = [
            pool.submit(run_case, api.client, case, source="cl_src", destination="cl_dst", dst_db=DST_DB)
            for case in cases
        ]
        results = [f.result() for f in futures]
    print_table(results)
    assert_truthful(results, ITEMS)
    by_point = {r["point"]: r for r in results}
    for point in ("while reading the source", "last moment before COMMIT"):
        assert (by_point[point]["status"], by_point[point]["dest_rows"]) == ("CANCELLED", 0), by_point[point]
    late = by_point["after the last COMMIT (PostJob running)"]
    assert (late["status"], late["dest_rows"]) == ("SUCCESS", ITEMS), late


def _post_job(run_id: str) -> dict | None:
    found = _rows(
        META_DB,
        "SELECT state, hostname, try_number FROM task_instance "
        f"WHERE dag_id = 'sync__cl_lost_post' AND task_id = 'post_job' AND run_id = '{run_id}'",
    )
    return dict(zip(("state", "hostname", "try_number"), found[0], strict=True)) if found else None


def test_a_worker_lost_during_post_job_loses_neither_the_postjob_nor_the_outcome(cluster: Cluster):
    one, two = cluster.api(0), cluster.api(1)
    body = _job(
        "cl_lost_post",
        "REPLICATE [lost_post] SELECT * FROM [items]",
        # one transaction: the attempt on the lost worker never commits its row, the retry does
        PostJob="sql: INSERT INTO postjob_log VALUES ('cl_lost_post'); SELECT pg_sleep(6)",
    )
    with cluster.logs_on_failure():
        one.ok(one.post("/jobs", body), 201)
        run_id = two.ok(two.post("/executeJob", {"JobName": "cl_lost_post", "WaitForResults": "false"}))[
            "value"
        ][0]["RunId"]

        def post_job_sleeping() -> str | None:
            ti = _post_job(run_id)
            sleeping = active(DST_DB, "%pg_sleep(6)%")
            return ti["hostname"] if ti and ti["state"] == "running" and ti["hostname"] and sleeping else None

        host = wait_for("post_job to run the PostJob", post_job_sleeping, timeout=RUN_TIMEOUT)
        victim = HOSTS[host]
        cluster.kill(victim)
        try:
            final = _run_to_end(cluster, "cl_lost_post", timeout=RUN_TIMEOUT + 60)
        finally:
            cluster.revive(victim)
        assert final["Status"] == "SUCCESS", final
        ti = _post_job(run_id)
        assert ti is not None and ti["try_number"] == 2 and ti["hostname"] != host, ti
        assert _rows(DST_DB, "SELECT count(*) FROM postjob_log WHERE run = 'cl_lost_post'")[0][0] == 1
        assert rows(DST_DB, "lost_post") == ITEMS


def _end(api, name: str) -> None:
    """Cancel the job's run and delete the job (a second cancel ends a run still in its teardown)."""
    api.post("/cancelJob", {"JobName": name})

    def removed() -> bool:
        r = (
            api.client.put(f"/jobs('{name}')", json={})
            if KEEP_JOBS
            else api.client.delete(f"/jobs('{name}')")
        )
        if r.status_code == 409:  # the cancelled run is still finishing its teardown
            api.post("/cancelJob", {"JobName": name})
        return r.status_code in (200, 204)

    wait_for(f"job {name} to stop running", removed, timeout=120, interval=0.5)


def test_a_job_created_and_executed_at_once_never_waits_for_the_dag_processor(cluster: Cluster):
    import threading

    one, two = cluster.api(0), cluster.api(1)
    latencies, refused = [], []
    stop = threading.Event()

    def churn() -> None:
        one.ok(one.post("/jobs", _job("cl_churn", "REPLICATE [customers]")), 201)
        size = 1000
        while not stop.wait(0.5):
            size = 2000 if size == 1000 else 1000
            one.client.put("/jobs('cl_churn')", json={"BatchSize": str(size)})

    editor = threading.Thread(target=churn, daemon=True)
    if CHURN:
        editor.start()
    if PROVOKE:
        one.ok(one.post("/jobs", _job("cl_touch", "REPLICATE [customers]")), 201)
    try:
        with cluster.logs_on_failure():
            for n in range(SEQUENCES):
                name = f"cl_now_{n}"
                if PROVOKE:  # an edit asks for a parse; once the dag-processor took the request, it parses
                    one.ok(one.client.put("/jobs('cl_touch')", json={"BatchSize": str(1000 + n % 2)}))
                    wait_for(
                        "the dag-processor to take the parse request",
                        lambda: (
                            _rows(META_DB, "SELECT count(*) FROM dag_priority_parsing_request")[0][0] == 0
                        ),
                        timeout=60,
                        interval=0.05,
                    )
                t0 = time.monotonic()
                one.ok(one.post("/jobs", _job(name, "REPLICATE [customers]")), 201)
                r = two.post("/executeJob", {"JobName": name, "WaitForResults": "false"})
                latencies.append(time.monotonic() - t0)
                if r.status_code != 200:
                    refused.append((name, r.status_code, r.text[:300]))
                _end(one, name)
    finally:
        stop.set()
        if CHURN:
            editor.join(30)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"\ncreate -> executeJob accepted, {SEQUENCES} sequences "
        f"(keep jobs: {KEEP_JOBS}, churn: {CHURN}, provoke: {PROVOKE}): "
        f"median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s; "
        f"refused {len(refused)}: {refused[:3]}"
    )
    assert refused == []

"""End to end on the distributed deployment: ``scripts/cluster.py`` with two api-servers behind one PostgreSQL
metadata DB, Redis, the CeleryExecutor with two workers, scheduler, dag-processor and triggerer — each its own
process — driven only through the Job Management API (``/api.rsc``) with the admin API token.

Source and destination are PostgreSQL databases created for this run. The source holds plain tables and
*slow views* (a ``pg_sleep`` per row) so that a query task runs long enough, deterministically, to be
observed, cancelled, or to lose its worker in the middle.

The metadata DB and the cluster's logs are only *read* here, to observe which worker ran a task and whether
a source query is still active; every action goes through the API.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from typing import Any

import pytest

from tests import services
from tests.e2e.cluster_data import DST_DB, ITEMS, META_DB, RUN_TIMEOUT, SRC_DB
from tests.e2e.cluster_support import HOSTS, Cluster, wait_for

pytest.importorskip("airflow.providers.celery", reason="the Celery provider is not installed")


def _pg(db: str):
    import psycopg

    return psycopg.connect(
        host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER, dbname=db, autocommit=True
    )


def _rows(db: str, sql: str) -> list[tuple[Any, ...]]:
    with _pg(db) as c:
        return c.execute(sql).fetchall()


def _digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def assert_exact(dst_sql: str, src_sql: str) -> None:
    """The destination query returns exactly the source query's rows (count and checksum)."""
    src, dst = _rows(SRC_DB, src_sql), _rows(DST_DB, dst_sql)
    assert (len(dst), _digest(dst)) == (len(src), _digest(src)), f"{dst_sql!r} differs from {src_sql!r}"


def _active_source_queries() -> int:
    return _rows(
        SRC_DB,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state = 'active'",
    )[0][0]


def _task(dag_id: str, task_id: str) -> dict[str, Any] | None:
    """The task instance as the metadata DB has it (observation only: which worker, which try)."""
    rows = _rows(
        META_DB,
        "SELECT state, hostname, try_number FROM task_instance "
        f"WHERE dag_id = '{dag_id}' AND task_id = '{task_id}'",
    )
    return dict(zip(("state", "hostname", "try_number"), rows[0], strict=True)) if rows else None


def _query_hosts(dag_id: str, run_id: str) -> set[str]:
    """The hosts of a run's query tasks (observation of the metadata DB)."""
    rows = _rows(
        META_DB,
        "SELECT task_id, hostname FROM task_instance "
        f"WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' AND task_id LIKE 'replicate%'",
    )
    return {host for _, host in rows}


def _job(name: str, *queries: str, **fields: str) -> dict[str, str]:
    body = {"JobName": name, "Source": "cl_src", "Destination": "cl_dst", **fields}
    body.update({f"Query#{i}": q for i, q in enumerate(queries, 1)})
    return body


def _run_to_end(cluster: Cluster, job: str, *, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Poll getJobStatus (alternating api-servers) until the job's latest run has ended (a cancelled run's
    status is CANCELLED at once; it ends when its post_job teardown is done)."""
    turn = iter(range(10**6))

    def finished() -> dict[str, Any] | None:
        status = cluster.api(next(turn) % 2).job_status(job)
        ended = status["Status"] in ("SUCCESS", "FAILED", "CANCELLED") and status["job"]["RunEndDate"]
        return status if ended else None

    return wait_for(f"job {job} to finish", finished, timeout=timeout, interval=1)


# PreJob sleeps so that the three pre_job tasks overlap: a worker takes at most 2 (concurrency 2, prefetch 1),
# so the third lands on the other worker whatever the broker's order.
CONCURRENT = {
    "cl_a": (
        _job(
            "cl_a",
            "REPLICATE [items_a] SELECT * FROM [items_slow]",
            "REPLICATE [customers]",
            PreJob="sql: SELECT pg_sleep(4)",
        ),
        ITEMS + 2000,
    ),
    "cl_b": (_job("cl_b", "REPLICATE [orders]", PreJob="sql: SELECT pg_sleep(4)"), 5000),
    "cl_c": (
        _job(
            "cl_c",
            "REPLICATE [items_c] SELECT [id], [name] FROM [items] WHERE [price] >= 1000",
            PreJob="sql: SELECT pg_sleep(4)",
        ),
        ITEMS - 799,
    ),
}


def test_jobs_created_on_one_api_server_run_concurrently_on_both_workers(cluster: Cluster):
    one, two = cluster.api(0), cluster.api(1)
    with cluster.logs_on_failure():
        for name, (body, _) in CONCURRENT.items():
            created = one.ok(one.post("/jobs", body), 201)
            # no in-process cache: the other replica reads the job at once
            got = two.ok(two.get(f"/jobs('{name}')"))
            assert (got["JobId"], got["Query#1"]) == (created["JobId"], body["Query#1"])
        listed = {j["JobName"] for j in two.ok(two.get("/jobs"))["value"]}
        assert set(CONCURRENT) <= listed

        # executed through the other api-server, all three at once
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            started = list(
                pool.map(
                    lambda n: two.ok(two.post("/executeJob", {"JobName": n, "WaitForResults": "false"})),
                    CONCURRENT,
                )
            )
        for name, out in zip(CONCURRENT, started, strict=True):
            job_row = out["value"][0]
            assert job_row["JobName"] == name and job_row["Status"] in ("QUEUED", "RUNNING"), job_row

        for name, (_, records) in CONCURRENT.items():
            final = _run_to_end(cluster, name)
            assert final["Status"] == "SUCCESS", final
            assert final["job"]["RecordsAffected"] == str(records), final["job"]
            assert all(q["Status"] == "SUCCESS" for q in final["queries"]), final["queries"]

        assert_exact("SELECT * FROM items_a ORDER BY id", "SELECT * FROM items ORDER BY id")
        assert_exact("SELECT * FROM customers ORDER BY id", "SELECT * FROM customers ORDER BY id")
        assert_exact("SELECT * FROM orders ORDER BY id", "SELECT * FROM orders ORDER BY id")
        assert_exact(
            "SELECT id, name FROM items_c ORDER BY id",
            "SELECT id, name FROM items WHERE price >= 1000 ORDER BY id",
        )

        # InstanceId names the host(s) that ran each run's queries, each once, as the metadata DB saw them.
        # The pre_jobs overlap, so both workers took part; where the queries land is the broker's choice.
        history = one.ok(
            one.get("/history", **{"$filter": "startswith(JobName,'cl_') and Status eq 'Successful'"})
        )
        rows = {row["JobName"]: row for row in history["value"] if row["JobName"] in CONCURRENT}
        assert set(rows) == set(CONCURRENT), history["value"]
        for name, row in rows.items():
            named = row["InstanceId"].split(", ")
            assert len(named) == len(set(named)) and set(named) == _query_hosts(
                f"sync__{name}", row["RunId"]
            ), row
        ran_on = {
            host
            for (host,) in _rows(
                META_DB,
                # (a task that did not run, e.g. the skipped notify, has no host)
                "SELECT DISTINCT hostname FROM task_instance WHERE hostname <> '' AND dag_id IN "
                f"({', '.join(repr(f'sync__{n}') for n in CONCURRENT)})",
            )
        }
        assert ran_on == set(HOSTS), ran_on
        for worker in HOSTS.values():
            assert "execute_workload" in cluster.log(worker), f"{worker} never received a task"


def test_history_odata_and_logs_of_a_finished_run(cluster: Cluster):
    one, two = cluster.api(0), cluster.api(1)
    with cluster.logs_on_failure():
        rows = two.ok(
            two.get("/history", **{"$filter": "JobName eq 'cl_a'", "$orderby": "RunStartDate desc"})
        )
        assert [(r["JobName"], r["Status"], r["RecordsAffected"]) for r in rows["value"]] == [
            ("cl_a", "Successful", str(ITEMS + 2000))
        ]
        ordered = one.ok(
            one.get("/history", **{"$filter": "startswith(JobName,'cl_')", "$orderby": "JobName desc"})
        )["value"]
        names = [r["JobName"] for r in ordered]
        assert names == sorted(names, reverse=True) and {"cl_a", "cl_b", "cl_c"} <= set(names)
        count = one.get("/history/$count", **{"$filter": "JobName eq 'cl_b'"})
        assert count.status_code == 200 and count.text.strip() == "1", count.text

        logs = two.logs("cl_a")
        by_task = {r["TaskId"]: r for r in logs}
        assert {"pre_job", "replicate_items_a", "replicate_customers", "post_job"} <= set(by_task), (
            by_task.keys()
        )
        query_log = by_task["replicate_items_a"]
        assert query_log["Query"] == "REPLICATE [items_a] SELECT * FROM [items_slow]"
        assert "items_a" in query_log["Content"] and str(ITEMS) in query_log["Content"], query_log["Content"]


def test_cancel_stops_a_running_job_on_its_worker(cluster: Cluster):
    one, two = cluster.api(0), cluster.api(1)
    with cluster.logs_on_failure():
        one.ok(
            one.post("/jobs", _job("cl_cancel", "REPLICATE [items_never] SELECT * FROM [items_forever]")), 201
        )
        run_id = two.ok(two.post("/executeJob", {"JobName": "cl_cancel", "WaitForResults": "false"}))[
            "value"
        ][0]["RunId"]

        def reading() -> bool:
            status = one.job_status("cl_cancel")
            return status["queries"][0]["Status"] == "RUNNING" and _active_source_queries() > 0

        wait_for("the query task to be reading the slow view", reading, timeout=RUN_TIMEOUT)
        # never two runs of one job, whichever api-server is asked
        again = one.post("/executeJob", {"JobName": "cl_cancel", "WaitForResults": "false"})
        assert again.status_code == 409, again.text
        out = two.ok(two.post("/cancelJob", {"JobName": "cl_cancel"}))
        assert (out["value"][0]["RunId"], out["value"][0]["Status"]) == (run_id, "CANCELLED"), out

        final = _run_to_end(cluster, "cl_cancel", timeout=60)
        assert final["Status"] == "CANCELLED", final
        # the worker's task process stopped reading (engine cancel / SIGKILL), not just the run's state
        wait_for("the source query to stop", lambda: _active_source_queries() == 0, timeout=30)
        history = one.ok(one.get("/history", **{"$filter": f"RunId eq '{run_id}'"}))["value"]
        assert [r["Status"] for r in history] == ["Cancelled"], history
        # a full load stages then swaps: nothing of the cancelled load is visible
        assert _rows(DST_DB, "SELECT count(*) FROM pg_tables WHERE tablename = 'items_never'")[0][0] == 0 or (
            _rows(DST_DB, "SELECT count(*) FROM items_never")[0][0] == 0
        )


def test_lost_worker_task_is_retried_on_the_other_worker_and_destination_is_exact(cluster: Cluster):
    one, two = cluster.api(0), cluster.api(1)
    dag_id, task_id = "sync__cl_kill", "replicate_items_k"
    with cluster.logs_on_failure():
        one.ok(one.post("/jobs", _job("cl_kill", "REPLICATE [items_k] SELECT * FROM [items_slower]")), 201)
        two.ok(two.post("/executeJob", {"JobName": "cl_kill", "WaitForResults": "false"}))

        def running_on() -> str | None:
            ti = _task(dag_id, task_id)
            if ti and ti["state"] == "running" and ti["hostname"] and _active_source_queries() > 0:
                return ti["hostname"]
            return None

        host = wait_for("the query task to be reading", running_on, timeout=RUN_TIMEOUT)
        victim = HOSTS[host]
        cluster.kill(victim)  # the worker, its pool, the task supervisor and the task process: a lost machine
        assert cluster.status()[victim] is False

        # heartbeat timeout (20 s) -> try 1 failed -> retry (20 s delay) on the surviving worker
        final = _run_to_end(cluster, "cl_kill", timeout=RUN_TIMEOUT + 60)
        assert final["Status"] == "SUCCESS", final
        assert final["queries"][0]["RecordsAffected"] == str(ITEMS), final["queries"]
        ti = _task(dag_id, task_id)
        assert ti is not None and ti["try_number"] == 2, ti
        assert ti["hostname"] != host and ti["hostname"] in HOSTS, ti
        assert_exact("SELECT * FROM items_k ORDER BY id", "SELECT * FROM items ORDER BY id")

        tries = {r["Try"]: r for r in one.logs("cl_kill") if r["TaskId"] == task_id}
        assert set(tries) == {"1", "2"}, tries.keys()
        assert "items_k" in tries["2"]["Content"] and str(ITEMS) in tries["2"]["Content"], tries["2"][
            "Content"
        ]

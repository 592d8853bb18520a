"""cancelJob tells the truth, on a live LocalExecutor deployment (issue #14): cancelled at several points of a
load — while reading, in the last moment before COMMIT, during COMMIT, between the windows of an incremental
load, after the last COMMIT, during the PreJob — the answer of cancelJob, getJobStatus and history agree with
what the destination holds.

Live Airflow (api-server, scheduler with the LocalExecutor, dag-processor; PostgreSQL metadata DB),
PostgreSQL source and destination. The points are made deterministic with the databases themselves: slow
views (``pg_sleep`` per row), a trigger that sleeps while the state row is written (the statement right
before the COMMIT), a deferred constraint trigger that sleeps at COMMIT. The cases run concurrently.
The table of outcomes is printed (``-s``) whatever happens, then checked.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from airflow_sync.demo import processes
from tests import services
from tests.conftest import RUN_ID
from tests.e2e.cluster_support import wait_for
from tests.e2e.live import live_airflow

ITEMS = 3000
SRC, DST = f"as_cx_src_{RUN_ID}", f"as_cx_dst_{RUN_ID}"
RUN_TIMEOUT = 240

SOURCE_DDL = [
    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), "
    "updated timestamp NOT NULL)",
    # ten days of changes ending now (one window per day for the incremental case)
    f"INSERT INTO items SELECT g, 'item ' || g, g * 1.25, "
    f"date_trunc('day', now()::timestamp) - interval '9 days' + (g % 10) * interval '1 day' "
    f"+ (g % 3600) * interval '1 second' FROM generate_series(1, {ITEMS}) g",
    # COST: evaluated after the cheap quals (a window's range), once per row
    "CREATE FUNCTION slow_ok(seconds float8) RETURNS boolean LANGUAGE sql VOLATILE COST 100000 "
    "AS 'SELECT true FROM pg_sleep(seconds)'",
    "CREATE VIEW items_slow AS SELECT * FROM items WHERE slow_ok(0.004)",  # ~12 s
    "CREATE VIEW items_paced AS SELECT * FROM items WHERE slow_ok(0.004)",
]
DEST_DDL = [
    "CREATE FUNCTION sleep_trigger() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(TG_ARGV[0]::float8); RETURN NULL; END $$",
    # the last statement of the load transaction before COMMIT is the state row: make it take 4 s
    "CREATE SCHEMA c_commit",
    "CREATE TABLE c_commit._airflow_sync_state (job varchar(255) NOT NULL, query varchar(255) NOT NULL, "
    '"table" varchar(255), watermark varchar(64), updated varchar(40), PRIMARY KEY (job, query))',
    "CREATE TRIGGER slow_state BEFORE DELETE ON c_commit._airflow_sync_state "
    "FOR EACH STATEMENT EXECUTE FUNCTION sleep_trigger('4')",
    # COMMIT itself takes 4 s: a deferred constraint trigger on the target
    "CREATE SCHEMA c_during",
    "CREATE TABLE c_during.c_during (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), "
    "updated timestamp NOT NULL)",
    "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON c_during.c_during DEFERRABLE INITIALLY DEFERRED "
    "FOR EACH ROW WHEN (NEW.id = 1) EXECUTE FUNCTION sleep_trigger('4')",
]


def _pg(db: str):
    import psycopg

    return psycopg.connect(
        host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER, dbname=db, autocommit=True
    )


def _one(db: str, sql: str) -> Any:
    with _pg(db) as c:
        row = c.execute(sql).fetchone()
        return row[0] if row else None


def _active(db: str, like: str) -> bool:
    return bool(
        _one(
            db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '{like}'",
        )
    )


def _dest_rows(table: str) -> int:
    exists = _one(DST, f"SELECT to_regclass('{table}') IS NOT NULL")
    return int(_one(DST, f"SELECT count(*) FROM {table}")) if exists else 0


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    for db, ddl in ((SRC, SOURCE_DDL), (DST, DEST_DDL)):
        services.create_pg_database(db)
        with _pg(db) as c:
            for stmt in ddl:
                c.execute(stmt)

    def conns(_root):
        base = {"conn_type": "postgres", "host": services.PG_HOST, "port": services.PG_PORT}
        return {"cx_src": {**base, "login": services.PG_USER, "schema": SRC}, "cx_dst": {
            **base, "login": services.PG_USER, "schema": DST,
        }}  # fmt: skip

    try:
        with live_airflow(tmp_path_factory, "cancel", connections=conns) as air:
            made = air.cli("airflow-sync", "tokens", "create", "--name", "cx", "--role", "admin")
            assert made.returncode == 0, made.stderr[-3000:]
            base = f"{air.base}/api.rsc"
            processes.wait_for(
                "the api-server", lambda: processes.http_ok(f"{air.base}/api/v2/monitor/health"), timeout=240
            )
            client = httpx.Client(
                base_url=base,
                headers={"x-cdata-authtoken": made.stdout.strip().splitlines()[-1]},
                timeout=120,
            )
            try:
                yield air, client
            finally:
                client.close()
    finally:
        services.drop_pg_database(SRC)
        services.drop_pg_database(DST)


@dataclass
class Case:
    """One cancel point: the job, when to cancel, which destination table to count."""

    point: str
    table: str
    fields: dict[str, str]
    when: Callable[[], bool]


def _cases() -> list[Case]:
    start = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%d")
    return [
        Case(
            "while reading the source",
            "c_read",
            {"Query#1": "REPLICATE [c_read] SELECT * FROM [items_slow]"},
            lambda: _active(SRC, "%items_slow%"),
        ),
        Case(
            "last moment before COMMIT",
            "c_commit.c_commit",
            {"Query#1": "REPLICATE [c_commit] SELECT * FROM [items]", "CacheSchema": "c_commit"},
            lambda: _active(DST, 'DELETE FROM "c_commit"."_airflow_sync_state"%'),
        ),
        Case(
            "during COMMIT",
            "c_during.c_during",
            {"Query#1": "REPLICATE [c_during] SELECT * FROM [items]", "CacheSchema": "c_during"},
            lambda: _active(DST, "COMMIT"),
        ),
        Case(
            "between two windows of an incremental load",
            "c_win",
            {
                "Query#1": "REPLICATE [c_win] WITH IncrementalCheckColumns='updated', PrimaryKey='id' "
                "SELECT * FROM [items_paced]",
                "ReplicateStartDate": start,
                "ReplicateInterval": "1",
                "ReplicateIntervalUnit": "days",
            },
            lambda: _dest_rows("c_win") > 0,
        ),
        Case(
            "after the last COMMIT (PostJob running)",
            "c_late",
            {"Query#1": "REPLICATE [c_late] SELECT * FROM [items]", "PostJob": "sql: SELECT pg_sleep(8)"},
            lambda: _active(DST, "SELECT pg_sleep(8)%"),
        ),
        Case(
            "during the PreJob",
            "c_pre",
            {"Query#1": "REPLICATE [c_pre] SELECT * FROM [items]", "PreJob": "sql: SELECT pg_sleep(9)"},
            lambda: _active(DST, "SELECT pg_sleep(9)%"),
        ),
    ]


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:2000]}"
    return r.json()


def _run_case(client: httpx.Client, case: Case) -> dict[str, Any]:
    name = "cx_" + case.table.split(".")[-1]
    body = {"JobName": name, "Source": "cx_src", "Destination": "cx_dst", **case.fields}
    r = client.post("/jobs", json=body)
    assert r.status_code == 201, r.text
    run_id = _ok(client.post("/executeJob", json={"JobName": name, "WaitForResults": "false"}))["value"][0][
        "RunId"
    ]
    wait_for(f"{case.point}: the moment to cancel", case.when, timeout=RUN_TIMEOUT, interval=0.2)
    t0 = time.monotonic()
    answer = _ok(client.post("/cancelJob", json={"JobName": name}))["value"][0]
    answered_in = time.monotonic() - t0

    def ended() -> dict[str, Any] | None:
        rows = _ok(client.post("/getJobStatus", json={"JobName": name}))["value"]
        return rows if rows[0]["RunEndDate"] else None

    status = wait_for(f"{case.point}: the run to end", ended, timeout=RUN_TIMEOUT, interval=1)
    (hist,) = _ok(client.get("/history", params={"$filter": f"RunId eq '{run_id}'"}))["value"]
    return {
        "point": case.point,
        "dest_rows": _dest_rows(case.table),
        "cancel_answer": answer["Status"],
        "answered_in": answered_in,
        "status": status[0]["Status"],
        "query": status[1]["Status"],
        "history": hist["Status"],
        "records": int(hist["RecordsAffected"] or 0),
        "detail": hist["Details"],
    }


def test_cancel_at_every_point_of_a_load_answers_what_the_destination_holds(live):
    air, client = live
    cases = _cases()
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        futures = [pool.submit(_run_case, client, case) for case in cases]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except BaseException:
                for proc in air.procs:
                    print(f"\n===== {proc.name} =====\n{processes.tail(proc.log, 80)}")
                raise
    print(
        "\n| cancel point | destination rows | cancelJob answer | getJobStatus | history | RecordsAffected |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['point']} | {r['dest_rows']} | {r['cancel_answer']} ({r['answered_in']:.1f} s) | "
            f"{r['status']} / query {r['query']} | {r['history']} | {r['records']} |"
        )
    for r in results:
        # one story everywhere ...
        assert r["cancel_answer"] == r["status"], r
        assert r["history"] == {"SUCCESS": "Successful", "CANCELLED": "Cancelled"}[r["status"]], r
        # ... and it is the destination's: what history counts is what is there
        assert r["records"] == r["dest_rows"], r
        if r["status"] == "SUCCESS":
            assert r["dest_rows"] == ITEMS and "the cancel came too late" in r["detail"], r
    by_point = {r["point"]: r for r in results}
    for point in ("while reading the source", "last moment before COMMIT", "during the PreJob"):
        assert (by_point[point]["status"], by_point[point]["dest_rows"]) == ("CANCELLED", 0), by_point[point]
    windows = by_point["between two windows of an incremental load"]
    assert windows["status"] == "CANCELLED" and 0 < windows["dest_rows"] < ITEMS, windows
    late = by_point["after the last COMMIT (PostJob running)"]
    assert (late["status"], late["dest_rows"]) == ("SUCCESS", ITEMS), late

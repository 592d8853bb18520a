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
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from airflow_sync.demo import processes
from tests import services
from tests.conftest import RUN_ID
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
from tests.e2e.live import live_airflow

ITEMS = 3000
SRC, DST = f"as_cx_src_{RUN_ID}", f"as_cx_dst_{RUN_ID}"

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


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    for db, ddl in ((SRC, SOURCE_DDL), (DST, SLOW_DEST_DDL)):
        services.create_pg_database(db)
        with pg(db) as c:
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


def _cases() -> list[Case]:
    start = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%d")
    return [
        Case(
            "while reading the source",
            "cx_c_read",
            "c_read",
            {"Query#1": "REPLICATE [c_read] SELECT * FROM [items_slow]"},
            lambda: active(SRC, "%items_slow%"),
        ),
        Case(
            "last moment before COMMIT",
            "cx_c_commit",
            "c_commit.c_commit",
            {"Query#1": "REPLICATE [c_commit] SELECT * FROM [items]", "CacheSchema": "c_commit"},
            lambda: active(DST, 'DELETE FROM "c_commit"."_airflow_sync_state"%'),
        ),
        Case(
            "during COMMIT",
            "cx_c_during",
            "c_during.c_during",
            {"Query#1": "REPLICATE [c_during] SELECT * FROM [items]", "CacheSchema": "c_during"},
            lambda: active(DST, "COMMIT"),
        ),
        Case(
            "between two windows of an incremental load",
            "cx_c_win",
            "c_win",
            {
                "Query#1": "REPLICATE [c_win] WITH IncrementalCheckColumns='updated', PrimaryKey='id' "
                "SELECT * FROM [items_paced]",
                "ReplicateStartDate": start,
                "ReplicateInterval": "1",
                "ReplicateIntervalUnit": "days",
            },
            lambda: rows(DST, "c_win") > 0,
        ),
        Case(
            "after the last COMMIT (PostJob running)",
            "cx_c_late",
            "c_late",
            {"Query#1": "REPLICATE [c_late] SELECT * FROM [items]", "PostJob": "sql: SELECT pg_sleep(8)"},
            lambda: active(DST, "SELECT pg_sleep(8)%"),
        ),
        Case(
            "during the PreJob",
            "cx_c_pre",
            "c_pre",
            {"Query#1": "REPLICATE [c_pre] SELECT * FROM [items]", "PreJob": "sql: SELECT pg_sleep(9)"},
            lambda: active(DST, "SELECT pg_sleep(9)%"),
        ),
    ]


def test_cancel_at_every_point_of_a_load_answers_what_the_destination_holds(live):
    air, client = live
    cases = _cases()
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        futures = [
            pool.submit(run_case, client, case, source="cx_src", destination="cx_dst", dst_db=DST)
            for case in cases
        ]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except BaseException:
                for proc in air.procs:
                    print(f"\n===== {proc.name} =====\n{processes.tail(proc.log, 80)}")
                raise
    print_table(results)
    assert_truthful(results, ITEMS)
    by_point = {r["point"]: r for r in results}
    for point in ("while reading the source", "last moment before COMMIT", "during the PreJob"):
        assert (by_point[point]["status"], by_point[point]["dest_rows"]) == ("CANCELLED", 0), by_point[point]
    windows = by_point["between two windows of an incremental load"]
    assert windows["status"] == "CANCELLED" and 0 < windows["dest_rows"] < ITEMS, windows
    late = by_point["after the last COMMIT (PostJob running)"]
    assert (late["status"], late["dest_rows"]) == ("SUCCESS", ITEMS), late

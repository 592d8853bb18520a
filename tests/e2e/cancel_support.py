"""Cancel a job at a chosen point of its run and collect what every report says against the destination.

Used by the live LocalExecutor test (``test_cancel_live``) and the Celery cluster test
(``test_cluster_outcomes``). A :class:`Case` names the job, the moment to cancel (a predicate polled on the
databases) and the destination table to count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests import services
from tests.e2e.cluster_support import wait_for

RUN_TIMEOUT = 240


def pg(db: str):
    import psycopg

    return psycopg.connect(
        host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER, dbname=db, autocommit=True
    )


def one(db: str, sql: str) -> Any:
    with pg(db) as c:
        row = c.execute(sql).fetchone()
        return row[0] if row else None


def active(db: str, like: str) -> bool:
    """A statement matching ``like`` is running in ``db`` (a pg_sleep, a COMMIT, a read of a view)."""
    return bool(
        one(
            db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '{like}'",
        )
    )


def rows(db: str, table: str) -> int:
    """Rows of ``table`` in ``db`` (0 when it does not exist)."""
    exists = one(db, f"SELECT to_regclass('{table}') IS NOT NULL")
    return int(one(db, f"SELECT count(*) FROM {table}")) if exists else 0


#: the destination objects that place a cancel in the last moment before COMMIT and during COMMIT
SLOW_DEST_DDL = [
    "CREATE FUNCTION sleep_trigger() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(TG_ARGV[0]::float8); RETURN NULL; END $$",
    # the last statement of the load transaction before COMMIT writes the state row: it takes 4 s here
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


@dataclass
class Case:
    """One cancel point: the job's fields, when to cancel, which destination table to count."""

    point: str
    job: str
    table: str
    fields: dict[str, str]
    when: Callable[[], bool]
    extra: dict[str, Any] = field(default_factory=dict)


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:2000]}"
    return r.json()


def run_case(
    client: httpx.Client, case: Case, *, source: str, destination: str, dst_db: str
) -> dict[str, Any]:
    """Create the job, run it, cancel at the case's moment, wait for the end; what each report says."""
    body = {"JobName": case.job, "Source": source, "Destination": destination, **case.fields}
    r = client.post("/jobs", json=body)
    assert r.status_code == 201, r.text
    started = _ok(client.post("/executeJob", json={"JobName": case.job, "WaitForResults": "false"}))
    run_id = started["value"][0]["RunId"]
    wait_for(f"{case.point}: the moment to cancel", case.when, timeout=RUN_TIMEOUT, interval=0.2)
    t0 = time.monotonic()
    answer = _ok(client.post("/cancelJob", json={"JobName": case.job}))["value"][0]
    answered_in = time.monotonic() - t0

    def ended() -> list[dict[str, Any]] | None:
        status = _ok(client.post("/getJobStatus", json={"JobName": case.job}))["value"]
        return status if status[0]["RunEndDate"] else None

    status = wait_for(f"{case.point}: the run to end", ended, timeout=RUN_TIMEOUT, interval=1)
    (hist,) = _ok(client.get("/history", params={"$filter": f"RunId eq '{run_id}'"}))["value"]
    return {
        "point": case.point,
        "dest_rows": rows(dst_db, case.table),
        "cancel_answer": answer["Status"],
        "answered_in": answered_in,
        "status": status[0]["Status"],
        "query": status[1]["Status"],
        "history": hist["Status"],
        "records": int(hist["RecordsAffected"] or 0),
        "detail": hist["Details"],
    }


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        "\n| cancel point | destination rows | cancelJob answer | getJobStatus | history | RecordsAffected |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['point']} | {r['dest_rows']} | {r['cancel_answer']} ({r['answered_in']:.1f} s) | "
            f"{r['status']} / query {r['query']} | {r['history']} | {r['records']} |"
        )


def assert_truthful(results: list[dict[str, Any]], total: int) -> None:
    """One story everywhere, and it is the destination's: what history counts is what is there."""
    for r in results:
        assert r["cancel_answer"] == r["status"], r
        assert r["history"] == {"SUCCESS": "Successful", "CANCELLED": "Cancelled"}[r["status"]], r
        assert r["records"] == r["dest_rows"], r
        if r["status"] == "SUCCESS":
            assert r["dest_rows"] == total and "the cancel came too late" in r["detail"], r

"""CData's schedule semantics with a live scheduler: a created, enabled or changed schedule starts no run,
the first run is the next cron tick, and the NextRun the API shows is the time Airflow uses.

Live pieces: ``airflow api-server`` (the plugin at /api.rsc), ``scheduler`` (LocalExecutor) and
``dag-processor`` with a fresh PostgreSQL metadata DB (tests/e2e/live.py). Jobs are created and changed over
the API as a CData client does.

"No run starts" is shown by the two things that decide it: after the DAG of the new schedule is parsed,
Airflow's ``next_dagrun_create_after`` is the next tick (in the future: the scheduler creates runs only for
DAGs whose time has come), and after that the scheduler has heartbeat several times (completed several loops
that would have created a run) and the DAG still has none. Before this fix the same steps created a run at
once for the latest missed tick. The every-minute job shows the other half: its first run is the tick after
its creation, exactly the time the API showed, and it runs.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from airflow_sync.demo import processes
from tests.e2e.live import live_airflow

HEARTBEATS = 3  # scheduler loops (heartbeat every 2 s) that must pass with a parsed DAG and no run


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    def sources(root):
        src, dst = root / "source.db", root / "warehouse.db"
        with sqlite3.connect(src) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
            db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i * 1.5) for i in range(1, 51)])
        sqlite3.connect(dst).close()
        return {
            "sched_src": {"conn_type": "sqlite", "host": str(src)},
            "sched_dst": {"conn_type": "sqlite", "host": str(dst)},
        }

    with live_airflow(tmp_path_factory, "e2e_sched", connections=sources) as air:
        created = air.cli("airflow-sync", "tokens", "create", "--name", "sched", "--role", "admin")
        assert created.returncode == 0, created.stderr[-3000:]
        info = {
            "base": air.base,
            "token": created.stdout.strip().splitlines()[-1],
            "procs": air.procs,
            "engine": air.engine,
        }
        processes.wait_for(
            "the api-server",
            lambda: processes.http_ok(f"{air.base}/api/v2/monitor/health"),
            timeout=240,
            procs=air.procs,
        )
        yield info


def _call(live: dict[str, Any], method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"x-cdata-authtoken": live["token"], "Content-Type": "application/json"}
    req = urllib.request.Request(live["base"] + "/api.rsc" + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _rows(live: dict[str, Any], sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    with live["engine"].connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _dag(live: dict[str, Any], dag_id: str) -> Any:
    rows = _rows(
        live,
        "SELECT timetable_summary, next_dagrun_create_after, next_dagrun, last_parsed_time, is_stale "
        "FROM dag WHERE dag_id = :d",
        d=dag_id,
    )
    return rows[0] if rows else None


def _runs(live: dict[str, Any], dag_id: str) -> list[Any]:
    return _rows(
        live,
        "SELECT run_id, run_type, run_after, logical_date, queued_at, state FROM dag_run WHERE dag_id = :d "
        "ORDER BY id",
        d=dag_id,
    )


def _heartbeat(live: dict[str, Any]) -> datetime | None:
    rows = _rows(
        live,
        "SELECT MAX(latest_heartbeat) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'",
    )
    return rows[0][0]


def _parsed_with(live: dict[str, Any], dag_id: str, summary: str, after: datetime) -> Any:
    """Wait until the dag-processor wrote the DAG of ``summary`` (Airflow cron or 'None') after ``after``."""

    def ready() -> bool:
        row = _dag(live, dag_id)
        return bool(
            row and not row.is_stale and row.timetable_summary == summary and row.last_parsed_time > after
        )

    processes.wait_for(f"{dag_id} parsed with schedule {summary}", ready, timeout=120, procs=live["procs"])
    return _dag(live, dag_id)


def _scheduler_looped(live: dict[str, Any], since: datetime) -> None:
    """Wait until the scheduler has heartbeat ``HEARTBEATS`` times after ``since``: it ran loops that would
    have created any due run."""
    seen: set[datetime] = set()

    def ready() -> bool:
        beat = _heartbeat(live)
        if beat is not None and beat > since:
            seen.add(beat)
        return len(seen) >= HEARTBEATS

    processes.wait_for("scheduler loops", ready, timeout=60, procs=live["procs"], interval=0.3)


def _next_run(entity: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entity["NextRun"])


def _db_now(live: dict[str, Any]) -> datetime:
    return _rows(live, "SELECT now()")[0][0]


def _job(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "JobName": name,
        "Source": "sched_src",
        "Destination": "sched_dst",
        "Query#1": "REPLICATE [orders]",
    } | fields


def test_new_enabled_and_changed_schedules_start_no_run_and_the_next_tick_runs(live):
    try:
        _scenario(live)
    except BaseException:
        for proc in live["procs"]:
            print(f"\n===== {proc.name} ({proc.log}) =====\n{processes.tail(proc.log, 60)}")
        raise


def _no_run_and_next_is(
    live: dict[str, Any], dag_id: str, row: Any, shown: datetime, after: datetime
) -> None:
    """The parsed DAG's next run is the API's NextRun, in the future, and the scheduler starts nothing."""
    assert row.next_dagrun_create_after == shown == row.next_dagrun, (row, shown)
    assert shown > after
    _scheduler_looped(live, row.last_parsed_time)
    assert _runs(live, dag_id) == [], f"{dag_id} started a run"


def _scenario(live: dict[str, Any]) -> None:
    # 1. create with a schedule (CData's nightly cron): no run, NextRun = next 02:00
    t0 = _db_now(live)
    status, daily = _call(live, "POST", "/jobs", _job("nightly", Scheduled="True", ScheduledCron="0 2 * * *"))
    assert status == 201, daily
    dag_id = daily["DagId"]
    row = _parsed_with(live, dag_id, "0 2 * * *", t0)
    print(f"\nnightly: NextRun {daily['NextRun']}, Airflow's next {row.next_dagrun_create_after}")
    _no_run_and_next_is(live, dag_id, row, _next_run(daily), t0)

    # 2. an every-minute job: its first run is the tick after its creation (shown by the API beforehand)
    t_minutely = _db_now(live)
    status, minutely = _call(
        live, "POST", "/jobs", _job("minutely", Scheduled="True", ScheduledCron="* * * * *")
    )
    assert status == 201, minutely
    first_tick = _next_run(minutely)
    assert first_tick > t_minutely and (first_tick - t_minutely).total_seconds() <= 60

    # 3. an unrelated edit changes the DAG but not its next run
    status, edited = _call(
        live,
        "PUT",
        "/jobs('nightly')",
        {"Query#1": "REPLICATE [orders]", "Query#2": "REPLICATE [totals] SELECT [id] FROM [orders]"},
    )
    assert status == 200 and edited["NextRun"] == daily["NextRun"], edited
    processes.wait_for(
        "the edited nightly DAG",
        lambda: (
            _rows(
                live,
                "SELECT COUNT(*) FROM serialized_dag WHERE dag_id = :d "
                "AND CAST(data AS TEXT) LIKE '%replicate_totals%'",
                d=dag_id,
            )[0][0]
            > 0
        ),
        timeout=120,
        procs=live["procs"],
    )
    assert _dag(live, dag_id).next_dagrun_create_after == _next_run(daily)

    # 4. change the cron: no run, NextRun = the new cron's next tick
    t1 = _db_now(live)
    status, changed = _call(live, "PUT", "/jobs('nightly')", {"ScheduledCron": "30 3 * * *"})
    assert status == 200, changed
    row = _parsed_with(live, dag_id, "30 3 * * *", t1)
    _no_run_and_next_is(live, dag_id, row, _next_run(changed), t1)

    # 5. switch a schedule on: no run, NextRun = the next tick after switching
    status, off = _call(live, "POST", "/jobs", _job("later", Scheduled="False", ScheduledCron="15 */2 * * *"))
    assert status == 201 and off["NextRun"] is None, off
    later_dag = off["DagId"]
    _parsed_with(live, later_dag, "None", t1)
    t2 = _db_now(live)
    status, on = _call(live, "PUT", "/jobs('later')", {"Scheduled": "True"})
    assert status == 200, on
    row = _parsed_with(live, later_dag, "15 */2 * * *", t2)
    _no_run_and_next_is(live, later_dag, row, _next_run(on), t2)

    # 6. the every-minute job ran at its first tick: exactly the time shown, not a missed one
    minutely_dag = minutely["DagId"]
    processes.wait_for(
        "the first scheduled run of the every-minute job",
        lambda: bool(_runs(live, minutely_dag)),
        timeout=150,
        procs=live["procs"],
    )
    run = _runs(live, minutely_dag)[0]
    print(f"minutely: created {t_minutely}, NextRun {first_tick}, run {run.run_id} queued {run.queued_at}")
    assert run.run_type == "scheduled"
    assert run.run_after == run.logical_date == first_tick, run
    assert run.queued_at >= first_tick  # created when its tick came, not before
    processes.wait_for(
        "the first run to end",
        lambda: _runs(live, minutely_dag)[0].state in ("success", "failed"),
        timeout=150,
        procs=live["procs"],
    )
    assert _runs(live, minutely_dag)[0].state == "success"
    status, history = _call(
        live, "GET", "/history?" + urllib.parse.urlencode({"$filter": "JobName eq 'minutely'"})
    )
    assert status == 200 and history["value"][0]["Status"] == "Successful", history
    # after the run, the API shows the DAG's next tick as Airflow has it (read around the GET: the
    # scheduler may move it to the following tick meanwhile)
    before = _dag(live, minutely_dag).next_dagrun_create_after
    status, current = _call(live, "GET", "/jobs('minutely')")
    after = _dag(live, minutely_dag).next_dagrun_create_after
    assert status == 200 and _next_run(current) in (before, after) and before > first_tick
    assert _runs(live, dag_id) == [] and _runs(live, later_dag) == []

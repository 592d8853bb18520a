"""End to end with live Airflow components: a job applied with the CLI becomes a DAG, a change to it reaches
the DAG within seconds, and a triggered run replicates the rows exactly.

Real pieces only: PostgreSQL as Airflow's metadata DB (a fresh database), ``airflow db migrate``, and
``airflow api-server`` (the execution API the task processes report to), ``airflow scheduler``
(LocalExecutor) and ``airflow dag-processor`` as subprocesses of a temporary AIRFLOW_HOME. The job is
applied with the ``airflow-sync`` console script and triggered through Airflow's REST API
(``POST /api/v2/dags/{id}/dagRuns``, as the UI does).

The change is what measures the parse-request latency: the first job lands while the dag-processor is
starting, and Airflow drops a priority request for a file that is being parsed at that moment (the file
then waits for ``min_file_process_interval``). The change follows right after the first DAG was written,
which is what ``[core] min_serialized_dag_update_interval = 0`` in the generated config is for.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest

from airflow_sync.demo import home, processes
from tests.e2e.live import live_airflow as start_live_airflow

pytest.importorskip("airflow_sync.dags.factory", reason="the DAG factory has not landed yet")

PARSE_LIMIT = 60.0  # seconds; with the priority parse request it is ~1-3 s
ROWS = 1500


def _source_rows() -> list[tuple]:
    return [
        (i, f"customer {i}", f"c{i}@example.com", round(i * 1.25, 2), f"2024-0{1 + i % 9}-1{i % 10} 10:00:00")
        for i in range(1, ROWS + 1)
    ]


@pytest.fixture(scope="module")
def live_airflow(tmp_path_factory):
    """A migrated PostgreSQL metadata DB and running api-server, scheduler and dag-processor."""

    def sources(root):
        src, dst = root / "source.db", root / "warehouse.db"
        with sqlite3.connect(src) as db:
            db.execute(
                "CREATE TABLE Customers (Id INTEGER PRIMARY KEY, Name VARCHAR(50), Email VARCHAR(80), "
                "Balance REAL, updated_at DATETIME)"
            )
            db.executemany("INSERT INTO Customers VALUES (?, ?, ?, ?, ?)", _source_rows())
        sqlite3.connect(dst).close()
        return {
            "e2e_src": {"conn_type": "sqlite", "host": str(src)},
            "e2e_dst": {"conn_type": "sqlite", "host": str(dst)},
        }

    with start_live_airflow(tmp_path_factory, "e2e", connections=sources) as air:
        yield {
            "env": air.env,
            "port": air.port,
            "engine": air.engine,
            "procs": air.procs,
            "dst": air.root / "warehouse.db",
            "root": air.root,
            "admin_password": air.keys["admin_password"],
        }


def _dump_logs(live) -> None:
    for proc in live["procs"]:
        print(f"\n===== {proc.name} ({proc.log}) =====\n{processes.tail(proc.log, 80)}")


def _scalar(live, sql: str, **params):
    from sqlalchemy import text

    with live["engine"].connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _dag_parsed(live, dag_id: str) -> bool:
    stale = _scalar(live, "SELECT is_stale FROM dag WHERE dag_id = :d", d=dag_id)
    if stale is None or stale:
        return False
    return _scalar(live, "SELECT COUNT(*) FROM serialized_dag WHERE dag_id = :d", d=dag_id) > 0


def test_applied_job_is_scheduled_and_replicates_exact_rows(live_airflow):
    live = live_airflow
    try:
        _run_scenario(live)
    except BaseException:
        _dump_logs(live)
        raise


def _post_json(url: str, body: dict, token: str | None = None) -> dict:
    import urllib.request

    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _dag_processor_up(live) -> bool:
    sql = "SELECT COUNT(*) FROM job WHERE job_type = 'DagProcessorJob' AND state = 'running'"
    return _scalar(live, sql) > 0


def _utc() -> str:
    return time.strftime("%H:%M:%S", time.gmtime())


def _apply(live, body: dict, name: str) -> subprocess.Popen:
    path = live["root"] / name
    path.write_text(json.dumps(body))
    return subprocess.Popen(
        [str(home.bin_dir() / "airflow-sync"), "jobs", "apply", str(path)],
        env=live["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return out


def _serialized_has_task(live, dag_id: str, task_id: str) -> bool:
    sql = "SELECT COUNT(*) FROM serialized_dag WHERE dag_id = :d AND CAST(data AS TEXT) LIKE :t"
    return _scalar(live, sql, d=dag_id, t=f'%"{task_id}"%') > 0


def _run_scenario(live) -> None:
    from airflow_sync.jobs.model import Job

    procs = live["procs"]
    first = {
        "JobName": "e2e_customers",
        "Source": "e2e_src",
        "Destination": "e2e_dst",
        "TableNamePrefix": "wh_",
        "Query#1": "REPLICATE [Customers]",
    }
    # create while the components start (both mostly wait for Python imports)
    t0 = time.monotonic()
    apply = _apply(live, first, "job_v1.json")
    processes.wait_for("the dag-processor", lambda: _dag_processor_up(live), timeout=240, procs=procs)
    assert "created   e2e_customers" in _finish(apply)
    dag_id = Job.from_wire(first).dag_id("sync__")
    processes.wait_for(
        f"DAG {dag_id} in the metadata DB",
        lambda: _dag_parsed(live, dag_id),
        timeout=PARSE_LIMIT,
        procs=procs,
    )
    print(f"\nnew job visible as a DAG {time.monotonic() - t0:.1f} s after start (incl. dag-processor start)")

    # change it: the steady-state latency of the priority parse request
    body = first | {
        "Query#2": "REPLICATE [big_balances] WITH TruncateTable=true SELECT [Id], [Balance] FROM [Customers] "
        "WHERE [Balance] >= 1000"
    }
    job = Job.from_wire(body)
    new_task = job.query_task_ids()[1]
    print(f"{_utc()} applying the change")
    assert "updated   e2e_customers" in _finish(_apply(live, body, "job_v2.json"))
    print(f"{_utc()} applied")
    t_applied = time.monotonic()
    processes.wait_for(
        f"task {new_task} in the serialized DAG",
        lambda: _serialized_has_task(live, dag_id, new_task),
        timeout=PARSE_LIMIT,
        procs=procs,
        interval=0.2,
    )
    print(f"{_utc()} changed job in its DAG {time.monotonic() - t_applied:.2f} s after `jobs apply` returned")

    base = f"http://127.0.0.1:{live['port']}"
    processes.wait_for(
        "the api-server", lambda: processes.http_ok(f"{base}/api/v2/monitor/health"), timeout=240, procs=procs
    )
    token = _post_json(f"{base}/auth/token", {"username": "admin", "password": live["admin_password"]})
    run_id = "e2e_run_1"
    created = _post_json(
        f"{base}/api/v2/dags/{dag_id}/dagRuns",
        {"dag_run_id": run_id, "logical_date": None, "conf": {"job_version": job.version}},
        token["access_token"],
    )
    assert created["dag_run_id"] == run_id

    def finished() -> bool:
        state = _scalar(
            live, "SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r", d=dag_id, r=run_id
        )
        return state in ("success", "failed")

    t0 = time.monotonic()
    processes.wait_for(f"run {run_id}", finished, timeout=180, procs=live["procs"], interval=0.5)
    print(f"run finished {time.monotonic() - t0:.1f} s after it was triggered")
    from sqlalchemy import text

    with live["engine"].connect() as conn:
        state = conn.execute(
            text("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r"), {"d": dag_id, "r": run_id}
        ).scalar()
        tasks = dict(
            conn.execute(
                text("SELECT task_id, state FROM task_instance WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).all()
        )
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    assert set(job.query_task_ids()) <= set(tasks)

    with sqlite3.connect(live["dst"]) as db:
        copied = db.execute(
            "SELECT Id, Name, Email, Balance, updated_at FROM wh_Customers ORDER BY Id"
        ).fetchall()
        big = db.execute("SELECT Id, Balance FROM big_balances ORDER BY Id").fetchall()
    assert [tuple(str(v) for v in r) for r in copied] == [tuple(str(v) for v in r) for r in _source_rows()]
    assert big == [(r[0], r[3]) for r in _source_rows() if r[3] >= 1000]

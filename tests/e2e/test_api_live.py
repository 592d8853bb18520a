"""End to end over HTTP against live Airflow: ``airflow api-server`` (the plugin at /api.rsc), ``scheduler``
(LocalExecutor) and ``dag-processor`` in a temporary AIRFLOW_HOME with a PostgreSQL metadata DB.

The scenario a CData client runs: create a job with an API token, execute it right away with
``WaitForResults`` (the API waits for the DAG and the run), every query SUCCESS with its record count;
executeQuery a subset; a long run refuses modification (409) and is cancelled (stops, CANCELLED, history
Cancelled, post-job ran); history with OData; logs decoded to the tasks' real log text; delete (DAG paused,
gone from Airflow's DAG list, history still readable).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from airflow_sync.demo import processes
from tests.e2e.live import ENDLESS, live_airflow

pytest.importorskip("airflow_sync.dags.factory", reason="the DAG factory has not landed yet")

ORDERS = 500
BIG = 20_000  # rows of the table whose cross join the long run copies (hours, unless cancelled)


def _make_source(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, note VARCHAR(40))")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)", [(i, i * 1.5, f"o{i}") for i in range(1, ORDERS + 1)]
        )
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40))")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, payload VARCHAR(60))")
        db.executemany("INSERT INTO big VALUES (?, ?)", ((i, f"payload {i:09d}") for i in range(1, BIG + 1)))
        db.execute(ENDLESS)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    def sources(root):
        src, dst = root / "source.db", root / "warehouse.db"
        _make_source(src)
        sqlite3.connect(dst).close()
        return {
            "e2e_src": {"conn_type": "sqlite", "host": str(src)},
            "e2e_dst": {"conn_type": "sqlite", "host": str(dst)},
        }

    # a deleted job's DAG turns stale ~100 s after the delete with the defaults; shorter here
    extra = {"scheduler": {"parsing_cleanup_interval": "5"}, "dag_processor": {"stale_dag_threshold": "5"}}
    with live_airflow(tmp_path_factory, "e2e_api", connections=sources, extra=extra) as air:
        created = air.cli("airflow-sync", "tokens", "create", "--name", "e2e", "--role", "admin")
        assert created.returncode == 0, created.stderr[-3000:]
        token = created.stdout.strip().splitlines()[-1]
        info = {
            "base": air.base,
            "token": token,
            "procs": air.procs,
            "engine": air.engine,
            "warehouse": air.root / "warehouse.db",
        }
        processes.wait_for(
            "the api-server",
            lambda: processes.http_ok(f"{info['base']}/api/v2/monitor/health"),
            timeout=240,
            procs=air.procs,
        )
        yield info


class Client:
    """A CData-style client: x-cdata-authtoken, JSON bodies, /api.rsc paths."""

    def __init__(self, live: dict[str, Any]) -> None:
        self.base = live["base"] + "/api.rsc"
        self.headers = {"x-cdata-authtoken": live["token"], "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 300) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=self.headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        text = raw.decode()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text


def _sql(live, query: str, **params):
    from sqlalchemy import text

    with live["engine"].connect() as conn:
        return conn.execute(text(query), params).all()


def _dump(live) -> None:
    for proc in live["procs"]:
        print(f"\n===== {proc.name} ({proc.log}) =====\n{processes.tail(proc.log, 60)}")


def test_cdata_client_scenario(live):
    try:
        _scenario(live, Client(live))
    except BaseException:
        _dump(live)
        raise


def _scenario(live, c: Client) -> None:
    job = {
        "JobName": "e2e_api",
        "Source": "e2e_src",
        "Destination": "e2e_dst",
        "Query#1": "REPLICATE [orders]",
        "Query#2": "REPLICATE [customers]",
    }
    status, created = c.call("POST", "/jobs", job)
    assert status == 201, created
    # 1. execute right after create: the API waits for the DAG, then for the run
    t0 = time.monotonic()
    status, body = c.call(
        "POST", "/executeJob", {"JobName": "e2e_api", "WaitForResults": "true", "Timeout": "240"}
    )
    print(f"\ncreate -> executeJob(wait) finished in {time.monotonic() - t0:.1f} s")
    assert status == 200, body
    rows = body["value"]
    assert [(r["Query"], r["Status"]) for r in rows] == [
        (None, "SUCCESS"),
        ("REPLICATE [orders]", "SUCCESS"),
        ("REPLICATE [customers]", "SUCCESS"),
    ], rows
    assert [r["RecordsAffected"] for r in rows] == [str(ORDERS + 3), str(ORDERS), "3"]
    first_run = rows[0]["RunId"]

    # 2. executeQuery: only customers runs
    status, body = c.call(
        "POST", "/executeQuery", {"JobName": "e2e_api", "Query#1": "REPLICATE  [customers]", "Timeout": "240"}
    )
    assert status == 200, body
    assert [(r["Query"], r["Status"]) for r in body["value"]] == [
        (None, "SUCCESS"),
        ("REPLICATE [customers]", "SUCCESS"),
    ]
    ((conf,),) = _sql(live, "SELECT conf FROM dag_run WHERE run_id = :r", r=body["value"][0]["RunId"])
    conf = conf if isinstance(conf, dict) else json.loads(conf)
    assert conf["queries"] == ["replicate_customers"]

    # 3. a long run: modify refused while running, then cancelled
    long_job = {"JobName": "e2e_long", "Source": "e2e_src", "Destination": "e2e_dst", "BatchSize": "10"}
    status, _ = c.call("POST", "/jobs", {**long_job, "Query#1": "REPLICATE [endless]"})
    assert status == 201
    status, body = c.call("POST", "/executeJob", {"JobName": "e2e_long", "WaitForResults": "false"})
    assert status == 200, body
    long_run = body["value"][0]["RunId"]
    processes.wait_for(
        "the long query to run",
        lambda: (
            c.call("POST", "/getJobStatus", {"JobName": "e2e_long"})[1]["Queries"][0]["Status"] == "RUNNING"
        ),
        timeout=180,
        procs=live["procs"],
    )
    status, body = c.call("PUT", "/jobs('e2e_long')", {"Verbosity": "4"})
    assert status == 409 and body["error"]["code"] == "JobRunning"
    t_cancel = time.monotonic()
    status, body = c.call("POST", "/cancelJob", {"JobName": "e2e_long"})
    assert status == 200 and body["value"][0]["Status"] == "CANCELLED", body

    def ended() -> bool:
        rows = _sql(live, "SELECT state FROM dag_run WHERE run_id = :r", r=long_run)
        return rows[0][0] == "failed"

    processes.wait_for("the cancelled run to end", ended, timeout=120, procs=live["procs"])
    print(f"cancel -> run ended in {time.monotonic() - t_cancel:.1f} s")
    states = dict(_sql(live, "SELECT task_id, state FROM task_instance WHERE run_id = :r", r=long_run))
    assert states["replicate_endless"] == "failed" and states["post_job"] == "success", states
    with sqlite3.connect(live["warehouse"]) as db:  # cancelled and reported so: nothing committed
        found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'endless'").fetchone()
        assert found is None or db.execute("SELECT COUNT(*) FROM endless").fetchone() == (0,)
    status, body = c.call("POST", "/getJobStatus", {"JobName": "e2e_long"})
    assert body["Status"] == "CANCELLED" and body["Queries"][0]["Status"] == "CANCELLED"
    ((note,),) = _sql(
        live,
        "SELECT content FROM dag_run_note n JOIN dag_run d ON d.id = n.dag_run_id WHERE d.run_id = :r",
        r=long_run,
    )
    assert note.startswith("Cancelled via API by e2e")  # what the Airflow UI shows on the run

    # 4. history with OData
    q = urllib.parse.urlencode(
        {"$filter": "JobName eq 'e2e_api'", "$orderby": "RunStartDate desc", "$top": "1"}
    )
    status, body = c.call("GET", f"/history?{q}")
    assert status == 200 and len(body["value"]) == 1 and body["value"][0]["Status"] == "Successful"
    status, body = c.call("GET", "/history?$filter=JobName eq 'e2e_long'".replace(" ", "%20"))
    assert [h["Status"] for h in body["value"]] == ["Cancelled"]
    assert body["value"][0]["RunEndDate"] and body["value"][0]["InstanceId"]

    # 5. logs: base64 of the tasks' real log text
    status, body = c.call("POST", "/getLogs", {"JobName": "e2e_api", "Days": "1"})
    assert status == 200, body
    orders_logs = [r for r in body["value"] if r["RunId"] == first_run and r["TaskId"] == "replicate_orders"]
    assert len(orders_logs) == 1
    text = base64.b64decode(orders_logs[0]["Content"]).decode()
    assert f"{ORDERS} rows read" in text, text[-2000:]

    # 6. delete: paused at once, gone from Airflow's DAG list, history kept
    status, _ = c.call("DELETE", "/jobs('e2e_api')")
    assert status == 204
    assert _sql(live, "SELECT is_paused FROM dag WHERE dag_id = 'sync__e2e_api'")[0][0] is True

    def gone() -> bool:
        return _sql(live, "SELECT is_stale FROM dag WHERE dag_id = 'sync__e2e_api'")[0][0] is True

    processes.wait_for("the deleted job's DAG to leave the DAG list", gone, timeout=180, procs=live["procs"])
    status, body = c.call("GET", "/history?JobName=e2e_api")
    assert status == 200 and len(body["value"]) == 2
    assert c.call("GET", "/jobs('e2e_api')")[0] == 404

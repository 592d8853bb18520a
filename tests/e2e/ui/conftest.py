"""A live Airflow (api-server, scheduler, dag-processor on PostgreSQL) for the browser tests, with two SQLite
connections stored in Airflow's connection table (as a user creates them in Admin -> Connections) and two
users of the simple auth manager: ``admin`` (role admin) and ``viewer`` (role viewer, read-only)."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from airflow_sync.demo import processes
from tests.e2e.live import ENDLESS, live_airflow

pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is part of the dev dependencies")

ORDERS = 500
CUSTOMERS = 3
BIG = 20_000


def make_source(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, note VARCHAR(40))")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)", [(i, i * 1.5, f"o{i}") for i in range(1, ORDERS + 1)]
        )
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, payload VARCHAR(60))")
        db.executemany("INSERT INTO big VALUES (?, ?)", ((i, f"payload {i:09d}") for i in range(1, BIG + 1)))
        db.execute(ENDLESS)


@pytest.fixture(scope="module")
def air(tmp_path_factory):
    extra = {
        "core": {"simple_auth_manager_users": "admin:admin,viewer:viewer"},
        "scheduler": {"parsing_cleanup_interval": "5"},
        "dag_processor": {"stale_dag_threshold": "5"},
    }
    with live_airflow(tmp_path_factory, "e2e_ui", connections=lambda root: {}, extra=extra) as live:
        src, dst = live.root / "source.db", live.root / "warehouse.db"
        make_source(src)
        sqlite3.connect(dst).close()
        processes.wait_for(
            "the api-server",
            lambda: processes.http_ok(f"{live.base}/api/v2/monitor/health"),
            timeout=240,
            procs=live.procs,
        )
        # the connections, created the way Admin -> Connections does (Airflow's REST API)
        token = httpx.post(
            f"{live.base}/auth/token", json={"username": "admin", "password": live.keys["admin_password"]}
        ).json()["access_token"]
        for conn_id, path in (("ui_source", src), ("ui_warehouse", dst)):
            added = httpx.post(
                f"{live.base}/api/v2/connections",
                json={"connection_id": conn_id, "conn_type": "sqlite", "host": str(path)},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert added.status_code == 201, added.text
        passwords = json.loads((live.root / "airflow" / "passwords.json").read_text())
        live.passwords = passwords  # type: ignore[attr-defined]
        live.warehouse = dst  # type: ignore[attr-defined]
        yield live


def dump(live) -> None:
    for proc in live.procs:
        print(f"\n===== {proc.name} ({proc.log}) =====\n{processes.tail(proc.log, 60)}")

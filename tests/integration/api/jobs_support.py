"""Helpers of the job-resource API tests (jobs, actions, history, logs, compat).

Jobs need two connections that resolve: SQLite files in the test home, declared as ``AIRFLOW_CONN_*``
environment variables (Airflow's own lookup, no DB rows). ``make_job_body`` gives a valid create body.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import sqlite3
import uuid
from typing import Any

API = "/api.rsc"
SRC, DST = "as_api_src", "as_api_dst"


def ensure_connections(home: str) -> tuple[str, str]:
    """Create source/destination SQLite files (source with tables ``orders`` and ``customers``)."""
    src = pathlib.Path(home, "api_src.db")
    dst = pathlib.Path(home, "api_dst.db")
    if not src.exists():
        with sqlite3.connect(src) as c:
            c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, updated TEXT)")
            c.executemany(
                "INSERT INTO orders VALUES (?, ?, ?)",
                [(i, i * 1.5, f"2024-01-{i:02d}") for i in range(1, 6)],
            )
            c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            c.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
            c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT)")
            c.executemany("INSERT INTO items VALUES (?, ?)", [(1, "x")])
    dst.touch()
    os.environ[f"AIRFLOW_CONN_{SRC.upper()}"] = json.dumps({"conn_type": "sqlite", "host": str(src)})
    os.environ[f"AIRFLOW_CONN_{DST.upper()}"] = json.dumps({"conn_type": "sqlite", "host": str(dst)})
    return SRC, DST


def unique(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def job_body(name: str, *queries: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"JobName": name, "Source": SRC, "Destination": DST}
    for n, q in enumerate(queries or ("REPLICATE [orders]",), start=1):
        body[f"Query#{n}"] = q
    body.update(fields)
    return body


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(data: str) -> str:
    return base64.b64decode(data).decode()


def sync_dags() -> Any:
    """Parse the project's ``dags/`` shim (the factory builds every stored job) into the metadata DB,
    as the dag-processor would. Returns the DagBag."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    if not bundle.is_initialized:
        bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)
    return bag


def create_job(client: Any, headers: dict[str, str], name: str, *queries: str, sync: bool = True, **f: Any):
    """Create a job over the API and (by default) parse its DAG into the DB; returns the entity."""
    r = client.post(f"{API}/jobs", json=job_body(name, *queries, **f), headers=headers)
    assert r.status_code == 201, r.text
    if sync:
        sync_dags()
    return r.json()


def run_dag_test(name: str, conf: dict[str, Any] | None = None) -> Any:
    """Run the job's DAG in-process with ``dag.test()`` (real TIs, XComs, logs); returns the DagRun."""
    from airflow_sync.jobs import store

    job = store.get_job(name)
    bag = sync_dags()
    dag = bag.get_dag(job.dag_id())
    run_conf = {"job_version": job.version, "job_id": job.job_id, **(conf or {})}
    return dag.test(run_conf=run_conf)


def active_runs(dag_id: str) -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        runs = s.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.state.in_(("queued", "running")))
        ).all()
        for run in runs:
            _ = run.note  # load it: the caller reads it after the session is gone
        s.expunge_all()
        return list(runs)


def finish_run(dag_id: str, run_id: str, state: str = "success") -> None:
    """Stand in for the scheduler: end a queued run (its tasks are not run)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as s:
        now = timezone.utcnow()
        s.execute(
            update(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            .values(state=state, start_date=now, end_date=now)
        )


def new_destination() -> str:
    """A fresh, empty SQLite destination connection (so row counts do not depend on earlier tests)."""
    conn_id = unique("as_api_dst")
    path = pathlib.Path(os.environ["AIRFLOW_HOME"], f"{conn_id}.db")
    path.touch()
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "sqlite", "host": str(path)})
    return conn_id

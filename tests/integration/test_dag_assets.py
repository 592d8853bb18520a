"""Asset events of generated job DAGs, read back from the metadata DB after real ``dag.test()`` runs.

A successful query task emits one event for its destination table's asset; a skipped or failed one emits
none. A DAG scheduled on that asset (the example consumer in ``dags/examples/``) is then due for a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3

import pytest

pytest.importorskip("airflow_sync.engine.replicate", reason="the replication engine has not landed yet")

CONSUMER = "example_sync_asset_consumer"  # dags/examples/sync_asset_consumer.py


@pytest.fixture(scope="module")
def source(airflow_db, tmp_path_factory):
    """A SQLite source with 20 accounts and a SQLite destination, as Airflow connections."""
    folder = tmp_path_factory.mktemp("dag_assets")
    src, dst = folder / "source.db", folder / "dest.db"
    with sqlite3.connect(src) as c:
        c.execute("create table accounts (id integer primary key, name text)")
        c.executemany("insert into accounts values (?, ?)", [(i, f"acct-{i}") for i in range(1, 21)])
    sqlite3.connect(dst).close()
    env = {
        "AIRFLOW_CONN_ASSET_SRC": json.dumps({"conn_type": "sqlite", "host": str(src)}),
        "AIRFLOW_CONN_ASSET_DST": json.dumps({"conn_type": "sqlite", "host": str(dst)}),
    }
    os.environ.update(env)
    yield src
    for key in env:
        os.environ.pop(key, None)


def store_job(name: str, *queries: str, **fields):
    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    body = {"JobName": name, "Source": "asset_src", "Destination": "asset_dst", **fields}
    body.update({f"Query#{i}": q for i, q in enumerate(queries, start=1)})
    with contextlib.suppress(Exception):
        store.delete_job(name)
    return store.create_job(Job.from_wire(body))


def run(job, **conf):
    from airflow_sync.dags.factory import build_dag

    dr = build_dag(job).test(run_conf=conf or None)
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


def events_of(run_id: str) -> dict[str, list[dict]]:
    """``{asset uri: [event extra, ...]}`` of the asset events one run produced."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        rows = s.execute(
            select(AssetModel.uri, AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == run_id)
        ).all()
    found: dict[str, list[dict]] = {}
    for uri, extra, task_id in rows:
        found.setdefault(uri, []).append({**(extra or {}), "task": task_id})
    return found


def test_a_successful_query_emits_an_event_and_skipped_or_failed_ones_do_not(source):
    job = store_job(
        "as_events",
        "REPLICATE [accounts]",
        "REPLICATE [vip] SELECT id, name FROM [accounts] WHERE id <= 5",
        "REPLICATE [no_such_table]",
        TableNamePrefix="stg_",
    )
    q_acc, q_vip, q_bad = job.query_task_ids()

    dr, states = run(job, queries=[q_acc, q_bad], job_version=job.version)
    assert states[q_acc] == "success" and states[q_vip] == "skipped" and states[q_bad] == "failed"
    events = events_of(dr.run_id)
    assert set(events) == {"airflow_sync://asset_dst/default/stg_accounts"}
    (event,) = events["airflow_sync://asset_dst/default/stg_accounts"]
    assert event["task"] == q_acc
    assert event["job_name"] == "as_events" and event["query_id"] == q_acc
    assert event["rows_read"] == 20 and event["records_affected"] == 20

    dr, states = run(job, queries=[q_vip], job_version=job.version)
    assert states[q_vip] == "success"
    assert set(events_of(dr.run_id)) == {"airflow_sync://asset_dst/default/vip"}  # explicit name: no prefix


def test_pre_job_cancel_job_emits_no_event(source):
    job = store_job(
        "as_cancelled",
        "REPLICATE [cancelled_accounts] SELECT * FROM [accounts]",
        PreJob='<api:set attr="CancelJob" value="true"/>',
    )
    dr, states = run(job)
    assert states[job.query_task_ids()[0]] == "skipped"
    assert events_of(dr.run_id) == {}


def test_the_example_consumer_dag_is_due_after_a_replication_into_its_table(source, pg_url, monkeypatch):
    """The job writes ``public.crm_Accounts`` of the connection ``warehouse``: the asset the example
    consumer DAG is scheduled on. After the run the scheduler's own query finds the consumer due."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select, update
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    conn = {"conn_type": "postgres", "host": u.host, "port": u.port, "login": u.username}
    conn.update({"password": u.password or "", "schema": u.database})
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(conn))
    job = store_job(
        "as_warehouse",
        "REPLICATE [crm_Accounts] SELECT * FROM [accounts]",
        Destination="warehouse",
        CacheSchema="public",
    )

    dr, _ = run(job)  # the first run also registers the bundle's DAGs, the consumer paused at creation
    assert dr.state == "success"
    assert "airflow_sync://warehouse/public/crm_Accounts" in events_of(dr.run_id)
    with create_session() as s:
        assert s.scalar(select(DagModel.is_paused).where(DagModel.dag_id == CONSUMER)) is True
        s.execute(update(DagModel).where(DagModel.dag_id == CONSUMER).values(is_paused=False))
        s.execute(delete(AssetDagRunQueue))

    dr, _ = run(job)
    assert dr.state == "success"
    with create_session() as s:
        queued = s.scalars(select(AssetDagRunQueue.target_dag_id)).all()
        assert queued == [CONSUMER]
        _, due = DagModel.dags_needing_dagruns(s)
        assert CONSUMER in due
        s.rollback()  # dags_needing_dagruns locks rows for the scheduler's transaction

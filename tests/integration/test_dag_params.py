"""The Trigger form's ``queries`` param of generated DAGs, through real runs and Airflow's own trigger path.

Airflow validates a run's conf against the DAG params when it creates the run (UI, REST API, the Job API's
``executeJob`` via ``trigger_dag``, ``dag.test()``): an unknown query is refused before anything runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3

import pytest

pytest.importorskip("airflow_sync.engine.replicate", reason="the replication engine has not landed yet")


@pytest.fixture(scope="module")
def job(airflow_db, tmp_path_factory):
    """A stored two-query job between two SQLite databases."""
    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    folder = tmp_path_factory.mktemp("dag_params")
    src, dst = folder / "source.db", folder / "dest.db"
    with sqlite3.connect(src) as c:
        c.execute("create table items (id integer primary key, label text)")
        c.executemany("insert into items values (?, ?)", [(i, f"item-{i}") for i in range(1, 11)])
    sqlite3.connect(dst).close()
    env = {
        "AIRFLOW_CONN_PARAM_SRC": json.dumps({"conn_type": "sqlite", "host": str(src)}),
        "AIRFLOW_CONN_PARAM_DST": json.dumps({"conn_type": "sqlite", "host": str(dst)}),
    }
    os.environ.update(env)
    body = {
        "JobName": "dp_pick",
        "Source": "param_src",
        "Destination": "param_dst",
        "Query#1": "REPLICATE [items]",
        "Query#2": "REPLICATE [few_items] SELECT * FROM [items] WHERE id <= 3",
    }
    with contextlib.suppress(Exception):
        store.delete_job("dp_pick")
    yield store.create_job(Job.from_wire(body))
    for key in env:
        os.environ.pop(key, None)


def run(job, conf):
    from airflow_sync.dags.factory import build_dag

    dr = build_dag(job).test(run_conf=conf)
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


def run_count(dag_id: str) -> int:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as s:
        return s.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id))


def test_the_form_default_and_no_conf_run_every_query(job):
    q_all, q_few = job.query_task_ids()
    for conf in ({"queries": []}, None):
        dr, states = run(job, conf)
        assert dr.state == "success"
        assert states[q_all] == "success" and states[q_few] == "success", conf


def test_picked_queries_run_alone_with_the_execute_job_conf_keys(job):
    q_all, q_few = job.query_task_ids()
    dr, states = run(job, {"job_version": job.version, "job_id": job.job_id, "queries": [q_few]})
    assert dr.state == "success"
    assert states[q_all] == "skipped" and states[q_few] == "success"


def test_an_unknown_query_is_refused_when_the_run_is_created(job):
    from airflow.exceptions import ParamValidationError

    run(job, None)  # the DAG is in the metadata DB from here on
    before = run_count(job.dag_id())
    with pytest.raises(ParamValidationError) as err:
        run(job, {"queries": ["replicate_nope"]})
    text = str(err.value)
    assert "queries" in text and "replicate_nope" in text
    assert run_count(job.dag_id()) == before


def test_airflow_trigger_path_validates_the_conf_the_job_api_sends(job):
    """executeJob/executeQuery trigger through ``trigger_dag``: its conf passes, a bad pick does not."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import ParamValidationError
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import delete

    run(job, None)
    dag_id = job.dag_id()
    before = run_count(dag_id)
    _, q_few = job.query_task_ids()
    with create_session() as s:
        with pytest.raises(ParamValidationError, match="replicate_nope"):
            trigger_dag(
                dag_id,
                conf={"job_version": job.version, "queries": ["replicate_nope"]},
                triggered_by=DagRunTriggeredByType.REST_API,
                session=s,
            )
        s.rollback()
    assert run_count(dag_id) == before
    with create_session() as s:
        created = trigger_dag(
            dag_id,
            conf={"job_version": job.version, "job_id": job.job_id, "queries": [q_few]},
            triggered_by=DagRunTriggeredByType.REST_API,
            session=s,
        )
        assert created is not None and created.conf["queries"] == [q_few]
        run_id = created.run_id
    with create_session() as s:  # a queued run would block later edits of the job
        s.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))

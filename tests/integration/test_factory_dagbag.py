"""The ``dags/`` shim loaded by a real DagBag: every stored job becomes a DAG, broken jobs are isolated,
the parsing context limits a task-start parse to one job, and deleting a job pauses its DAG."""

from __future__ import annotations

import contextlib
import json
import logging
import pathlib

import pytest

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def jobs(airflow_db, tmp_path_factory):
    import os

    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    folder = tmp_path_factory.mktemp("dagbag")
    os.environ["AIRFLOW_CONN_BAG_SRC"] = json.dumps({"conn_type": "sqlite", "host": str(folder / "s.db")})
    os.environ["AIRFLOW_CONN_BAG_DST"] = json.dumps({"conn_type": "sqlite", "host": str(folder / "d.db")})
    made = []
    for name in ("fb_one", "fb_two"):
        job = Job.from_wire(
            {"JobName": name, "Source": "bag_src", "Destination": "bag_dst", "Query#1": "REPLICATE [t1]"}
        )
        with contextlib.suppress(Exception):
            store.delete_job(name)
        made.append(store.create_job(job))
    yield made
    for name in ("AIRFLOW_CONN_BAG_SRC", "AIRFLOW_CONN_BAG_DST"):
        os.environ.pop(name, None)


def dagbag():
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")


@contextlib.contextmanager
def broken_job_stored():
    from airflow.models.variable import Variable

    from airflow_sync.jobs import store

    key = store.variable_key("fb_broken")
    Variable.set(key, json.dumps({"JobName": "fb_broken", "queries": "not a list"}))
    try:
        yield
    finally:
        Variable.delete(key)


def test_every_stored_job_is_a_dag_and_nothing_fails_to_import(jobs):
    bag = dagbag()
    assert bag.import_errors == {}
    for job in jobs:
        dag = bag.get_dag(job.dag_id())
        assert dag is not None
        assert [t.task_id for t in dag.tasks] == ["pre_job", *job.query_task_ids(), "post_job", "finish"]


def test_a_broken_stored_job_is_logged_and_skipped(jobs, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__STRICT_MODE", "False")
    with broken_job_stored(), caplog.at_level(logging.ERROR, logger="airflow_sync.dags.factory"):
        bag = dagbag()
    assert bag.import_errors == {}
    assert {j.dag_id() for j in jobs} <= set(bag.dag_ids)
    assert "sync__fb_broken" not in bag.dag_ids
    assert any("fb_broken" in r.getMessage() for r in caplog.records)


def test_strict_mode_turns_a_broken_job_into_an_import_error(jobs):
    with broken_job_stored():
        bag = dagbag()
    assert len(bag.import_errors) == 1
    (message,) = bag.import_errors.values()
    assert "fb_broken" in message or "queries" in message


def test_a_task_start_parse_builds_only_that_job(jobs, monkeypatch):
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", jobs[1].dag_id())
    bag = dagbag()
    assert set(bag.dag_ids) == {jobs[1].dag_id()}


def test_delete_waits_for_the_run_then_pauses_the_dag_and_keeps_history(jobs):
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    from airflow_sync.exceptions import JobNotFoundError, JobRunningError
    from airflow_sync.jobs import store

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(dagbag(), "dags-folder", None)
    dag_id = jobs[0].dag_id()
    with create_session() as s:
        assert s.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id)) is False
        run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.TEST, session=s)
        run_id = run.run_id
    with create_session() as s:
        assert store.job_is_running(dag_id, session=s)
    with pytest.raises(JobRunningError):
        store.delete_job(jobs[0].name)
    assert store.get_job(jobs[0].name) == jobs[0]

    with create_session() as s:
        s.scalars(select(DagRun).where(DagRun.run_id == run_id)).one().state = DagRunState.FAILED
    store.delete_job(jobs[0].name)
    with pytest.raises(JobNotFoundError):
        store.get_job(jobs[0].name)
    with create_session() as s:
        assert s.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id)) is True
        assert s.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) == DagRunState.FAILED
    assert jobs[0].dag_id() not in dagbag().dag_ids

    store.create_job(jobs[0])  # re-created under the same name: its DAG is unpaused again
    with create_session() as s:
        assert s.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id)) is False

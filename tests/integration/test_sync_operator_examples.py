"""The example DAGs in ``dags/examples``: they parse with no service around, have the shape the docs promise,
and the operator example runs end to end (``dag.test()``, trigger run in-line) against the fake CData Sync
server."""

from __future__ import annotations

import pathlib

import pytest

from tests.fakes.cdata_sync import FakeSyncServer

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "dags" / "examples"
ASSET_URI = "airflow_sync://warehouse/public/crm_Accounts"


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=EXAMPLES)


def test_every_example_parses_without_errors_or_services(bag):
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "example_sync_asset_consumer",
        "example_sync_job_operator",
        "example_sync_job_sensor",
    ]
    for dag in bag.dags.values():
        assert "example" in dag.tags


def test_example_shapes(bag):
    from airflow.sdk.definitions.asset import Asset

    operator_dag = bag.dags["example_sync_job_operator"]
    assert operator_dag.task_dict["run_sync_job"].downstream_task_ids == {"records_written"}
    assert operator_dag.task_dict["run_sync_job"].deferrable
    sensor_dag = bag.dags["example_sync_job_sensor"]
    assert sensor_dag.task_dict["wait_for_sync_job"].downstream_task_ids == {"build_report"}
    consumer = bag.dags["example_sync_asset_consumer"]
    assert list(consumer.timetable.asset_condition.objects) == [Asset(ASSET_URI)]


def test_a_task_start_parse_of_another_dag_builds_no_example(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sync__some_job")
    bag = DagBag(dag_folder=EXAMPLES)
    assert bag.import_errors == {}
    assert bag.dag_ids == []


def test_operator_example_runs_a_job_end_to_end(airflow_db, bag, monkeypatch):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with FakeSyncServer(token="example-token-0123456789") as fake:
        fake.add_job("SF_to_PG", ["REPLICATE [Account]", "REPLICATE [Opportunity]"], ["RUNNING", "SUCCESS"])
        monkeypatch.setenv("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", fake.connection())
        dr = bag.dags["example_sync_job_operator"].test()
        states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
        assert states == {"run_sync_job": "success", "records_written": "success"}
        assert fake.calls("executeJob")[0].body["JobName"] == "SF_to_PG"
        assert fake.calls("getJobStatus"), "the wait went through the trigger's getJobStatus polling"
    with create_session() as session:
        total = session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == dr.dag_id,
                XComModel.run_id == dr.run_id,
                XComModel.task_id == "records_written",
                XComModel.key == "return_value",
            )
        )
    assert total in (2400, "2400")


def test_sensor_example_waits_for_a_recent_successful_run(airflow_db, bag, monkeypatch):
    from datetime import UTC, datetime, timedelta

    with FakeSyncServer(token="example-token-0123456789") as fake:
        fake.add_job("SF_to_PG", ["REPLICATE [Account]"])
        fake.add_history("SF_to_PG", datetime.now(UTC) - timedelta(days=2))  # too old for the example's 12 h
        recent = fake.add_history("SF_to_PG", datetime.now(UTC) - timedelta(hours=1))
        monkeypatch.setenv("AIRFLOW_CONN_CDATA_SYNC_DEFAULT", fake.connection())
        dr = bag.dags["example_sync_job_sensor"].test()
        states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
        assert states == {"wait_for_sync_job": "success", "build_report": "success"}
        (call,) = fake.calls("history")
        assert "RunStartDate ge " in call.query["$filter"][0]
    report = next(ti for ti in dr.get_task_instances() if ti.task_id == "build_report")
    assert str(report.xcom_pull(task_ids="build_report")) == recent["Id"]

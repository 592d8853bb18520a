"""The schedule over the API: NextRun is the next tick after the schedule's last change — the time Airflow
stores for the DAG (``dag.next_dagrun_create_after``) once it is parsed, and the same time before that —
and only a schedule change moves it. (A live scheduler proves that no run starts: tests/e2e.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.api.jobs_support import API, ensure_connections, job_body, sync_dags, unique


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


def _dag_next(dag_id: str) -> datetime | None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        return s.scalar(select(DagModel.next_dagrun_create_after).where(DagModel.dag_id == dag_id))


def _stamp(name: str) -> str:
    from airflow_sync.jobs import store

    return store.get_job(name).schedule_since


def _tick_after(airflow_cron: str, moment: datetime) -> datetime:
    from croniter import croniter

    return croniter(airflow_cron, moment).get_next(datetime)


def test_next_run_is_the_next_tick_and_what_airflow_stores(api_client, admin):
    name = unique("sched")
    t0 = datetime.now(UTC)
    body = job_body(name, Scheduled="True", ScheduledCron="0 2 * * *")
    created = api_client.post(f"{API}/jobs", json=body, headers=admin)
    assert created.status_code == 201, created.text
    shown = datetime.fromisoformat(created.json()["NextRun"])  # before any parse: what the parse will set
    assert shown == _tick_after("0 2 * * *", t0) and shown > t0
    assert "ScheduleSince" not in created.json() and "schedule_since" not in created.json()

    sync_dags()
    dag_id = created.json()["DagId"]
    assert _dag_next(dag_id) == shown  # Airflow computed the same time
    got = api_client.get(f"{API}/jobs('{name}')", headers=admin).json()
    assert datetime.fromisoformat(got["NextRun"]) == shown
    listed = api_client.get(f"{API}/jobs?$filter=JobName eq '{name}'", headers=admin).json()["value"]
    assert listed[0]["NextRun"] == got["NextRun"]

    # an unrelated edit moves nothing
    since = _stamp(name)
    r = api_client.put(f"{API}/jobs('{name}')", json={"Query#1": "REPLICATE [customers]"}, headers=admin)
    assert r.status_code == 200 and r.json()["NextRun"] == got["NextRun"]
    sync_dags()
    assert _stamp(name) == since and _dag_next(dag_id) == shown

    # a new cron: the new next tick at once, and Airflow agrees after the parse
    t1 = datetime.now(UTC)
    r = api_client.put(f"{API}/jobs('{name}')", json={"ScheduledCron": "30 3 * * 2"}, headers=admin)
    assert r.status_code == 200, r.text
    assert _stamp(name) > since
    new = datetime.fromisoformat(r.json()["NextRun"])
    assert new == _tick_after("30 3 * * 1", t1)  # CData day 2 = Monday
    sync_dags()
    assert _dag_next(dag_id) == new
    assert (
        datetime.fromisoformat(api_client.get(f"{API}/jobs('{name}')", headers=admin).json()["NextRun"])
        == new
    )

    # off: no next run; on again: the next tick after switching it on
    r = api_client.put(f"{API}/jobs('{name}')", json={"Scheduled": "False"}, headers=admin)
    assert r.status_code == 200 and r.json()["NextRun"] is None
    sync_dags()
    assert _dag_next(dag_id) is None
    t2 = datetime.now(UTC)
    r = api_client.put(f"{API}/jobs('{name}')", json={"Scheduled": "True"}, headers=admin)
    on = datetime.fromisoformat(r.json()["NextRun"])
    assert on == _tick_after("30 3 * * 1", t2)
    sync_dags()
    assert _dag_next(dag_id) == on
    assert api_client.delete(f"{API}/jobs('{name}')", headers=admin).status_code == 204

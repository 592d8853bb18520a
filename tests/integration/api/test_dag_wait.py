"""executeJob of a just-created job does not wait for the dag-processor's next loop (issue #14): while the
DAG is missing, the parse request is repeated (Airflow drops one that arrives while the shim is parsed)."""

from __future__ import annotations

import pytest

from tests.integration.api.jobs_support import create_job, ensure_connections, unique


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


def _requests() -> int:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as s:
        return s.scalar(select(func.count()).select_from(DagPriorityParsingRequest)) or 0


def _claim_all() -> None:
    """What the dag-processor does when it picks the requests up."""
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as s:
        s.execute(delete(DagPriorityParsingRequest))


def test_waiting_for_a_missing_dag_asks_for_a_parse_again(api_client, token_headers, monkeypatch):
    from airflow_sync.api.routes import actions
    from airflow_sync.api.services.common import in_session
    from airflow_sync.jobs import store

    name = unique("nudge")
    create_job(api_client, token_headers("admin"), name, sync=False)
    assert _requests() == 1  # the create asked for a parse
    _claim_all()  # ... which the dag-processor took while it was parsing the shim: dropped
    job = store.get_job(name)
    nudge = [0.0]
    check = in_session(actions._check_and_nudge, (job, nudge), {})
    assert check.state == "missing" and _requests() == 1 and nudge[0] > 0
    in_session(actions._check_and_nudge, (job, nudge), {})  # within REPARSE_EVERY_SECONDS: no new row
    assert _requests() == 1

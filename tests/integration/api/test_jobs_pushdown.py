"""The jobs list narrowed by the database gives exactly the answers of the Python evaluation over every job.

On SQLite and PostgreSQL, jobs stored as their Variables (names with ``_``, ``.``, ``-`` and upper case;
scheduled or not) and real runs of them (so each job has a Status and a LastRun, some none): filters on
JobName (narrowed by the Variable key), Status and LastRun (by each job's newest run), on the fields only
Python knows (Source, Scheduled, NextRun, Can*), their mixes with and/or/not, ordering, paging and
``$count``. The reference is the implementation before: every entity built, then ``apply_odata``. And a
JobName filter reads one job, not all of them.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.conftest import RUN_ID
from tests.integration.airflow_tables import airflow_tables_db

NAMES = ["orders", "Orders_EU", "orders.v2", "a-b", "a_b", "aXb", "UPPER", "zz_last", "lone", "x1"]
PRINCIPAL = SimpleNamespace(
    filter_allowed=lambda action, ids: set(ids), allowed=lambda action, dag_id: True, authorize=None
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    from airflow.models.variable import Variable
    from sqlalchemy.orm import Session

    from airflow_sync.jobs import catalog
    from airflow_sync.jobs.model import Job
    from airflow_sync.jobs.store import _encode, variable_key
    from bench.api_data import plan_runs, write_runs

    with airflow_tables_db(request.param, f"as_jobs_{RUN_ID}", tmp_path_factory.mktemp("jobs")) as engine:
        jobs = []
        for n, job_name in enumerate(NAMES):
            body = {"JobName": job_name, "Source": f"src{n % 3}", "Destination": "dst"}
            body["Query#1"] = "REPLICATE [T]"
            if n % 3 == 0:
                body.update(Scheduled="True", ScheduledCron="0 2 * * *")
            jobs.append(Job.from_wire(body).since("2026-03-01T10:00:00+00:00" if n % 3 == 0 else ""))
        with contextlib.closing(Session(engine)) as session:
            session.add_all(Variable(key=variable_key(j.name), val=_encode(j)) for j in jobs)
            session.commit()
        # every job but "lone" and "x1" has runs; a deleted job's runs must not show up as a job
        plans = plan_runs(jobs[:-2], 120, now=datetime(2026, 3, 1, 12, tzinfo=UTC), deleted=2, active=2)
        write_runs(plans, engine=engine)
        catalog.clear()
        try:
            yield engine
        finally:
            catalog.clear()


def _query(flt: str | None = None, **options):
    from airflow_sync.api.odata import parse_odata
    from airflow_sync.api.routes.jobs import ODATA_SCHEMA

    params = {f"${k}": str(v) for k, v in options.items()}
    if flt is not None:
        params["$filter"] = flt
    return parse_odata(params, schema=ODATA_SCHEMA)


def _reference(engine, query):
    from sqlalchemy.orm import Session

    from airflow_sync.api.odata import apply_odata, filter_rows
    from airflow_sync.api.services import jobs as job_service
    from airflow_sync.jobs import store

    with contextlib.closing(Session(engine)) as session:
        rows = job_service.entities(
            store.list_jobs(session=session), allowed=PRINCIPAL.allowed, session=session
        )
        return apply_odata(rows, query), (len(filter_rows(rows, query)) if query.count else None)


def _pushed(engine, query):
    from sqlalchemy.orm import Session

    from airflow_sync.api.routes import jobs as routes

    with contextlib.closing(Session(engine)) as session:
        return routes._matching(PRINCIPAL, query, session=session)


FILTERS = [
    "JobName eq 'orders'",
    "JobName eq 'ORDERS'",
    "JobName ne 'orders'",
    "JobName gt 'a_b' and JobName le 'x1'",
    "contains(JobName, '_')",
    "contains(JobName, 'rde')",
    "startswith(JobName, 'a_')",
    "startswith(JobName, 'O')",
    "endswith(JobName, '.v2')",
    "not startswith(JobName, 'o')",
    "JobName eq 'lone' or JobName eq 'UPPER'",
    "Status eq 'Successful'",
    "Status eq 'Failed' or Status eq 'Cancelled'",
    "Status eq 'Not Started'",
    "Status ne 'Successful'",
    "Status eq 'Running' or Status eq 'Queued'",
    "LastRun ge 2026-02-15",
    "LastRun eq null",
    "LastRun ne null and LastRun lt 2026-03-01T11:00:00Z",
    "Status eq 'Successful' and LastRun ge 2026-01-01 and not contains(JobName, 'a')",
    "Source eq 'src1'",
    "Scheduled eq true",
    "NextRun ne null",
    "Scheduled eq true and Status ne 'Failed'",
    "CanExecute eq true and JobName eq 'aXb'",
    "DagId eq 'sync__orders'",
    "tolower(JobName) eq 'upper'",
    "(Status eq 'Failed' and JobName gt 'm') or Source eq 'src2'",
    "JobName eq 'deleted_000'",
]


@pytest.mark.parametrize("flt", FILTERS)
def test_filters_give_the_python_answer(db, flt):
    for options in ({}, {"count": "true", "top": 3, "skip": 1, "orderby": "LastRun desc,JobName"}):
        query = _query(flt, **options)
        assert _pushed(db, query) == _reference(db, query), (flt, options)


def test_statuses_are_all_there(db):
    rows, _ = _reference(db, _query())
    assert {r["Status"] for r in rows} >= {"Not Started", "Successful"}
    assert len(rows) == len(NAMES)


def test_a_jobname_filter_reads_one_job(db, monkeypatch):
    from sqlalchemy.orm import Session

    from airflow_sync.api.routes import jobs as routes
    from airflow_sync.jobs import catalog

    read: list[int] = []
    real = catalog._values
    monkeypatch.setattr(
        catalog, "_values", lambda keys, session: read.append(len(keys)) or real(keys, session)
    )
    monkeypatch.setattr(catalog, "read_all", lambda session: pytest.fail("every job was read"))
    with contextlib.closing(Session(db)) as session:
        rows, count = routes._matching(PRINCIPAL, _query("JobName eq 'aXb'", count="true"), session=session)
    assert [r["JobName"] for r in rows] == ["aXb"] and count == 1 and read == [1]

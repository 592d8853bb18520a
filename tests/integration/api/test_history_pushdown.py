"""History answered by the database gives exactly the answers of the Python evaluation over every row.

On SQLite and PostgreSQL (the dialects differ in LIKE, collation and NULL ordering), with a few hundred real
``dag_run`` / ``task_instance`` / ``xcom`` / ``dag_run_note`` rows (successful, failed, cancelled, running and
queued runs; jobs with ``_``, ``%``, upper case and non-ASCII names; runs of deleted jobs): every History
field with every operator, the string functions, ``and`` / ``or`` / ``not``, ``null``, mismatched literal
types, ``$orderby`` of each field both ways with ``$top`` / ``$skip``, ``$count``, and a caller who may read
only some jobs. The reference is :func:`airflow_sync.api.services.history.history_rows` + ``apply_odata``
(the implementation before the pushdown). The filters on JobName, Status and dates must also be answered by
the database: no more rows are built than the page holds.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.conftest import RUN_ID
from tests.integration.airflow_tables import airflow_tables_db

NAMES = ["orders", "Orders_EU", "pct%job", "under_score", "Ünïcode_jöb", "UPPER", "a", "zz_last"]


def _jobs() -> list[SimpleNamespace]:
    jobs = []
    for n, name in enumerate(NAMES):
        ids = tuple(f"replicate_T{q}" for q in range(1 + n % 3))
        jobs.append(
            SimpleNamespace(
                name=name,
                job_id=str(uuid.UUID(int=n + 1)),
                queries=tuple(f"REPLICATE [T{q}]" for q in range(len(ids))),
                query_task_ids=lambda ids=ids: ids,
            )
        )
    return jobs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    """A fresh database with Airflow's tables and the seeded runs; yields (engine, jobs by name)."""
    from bench.api_data import plan_runs, write_runs

    with airflow_tables_db(request.param, f"as_hist_{RUN_ID}", tmp_path_factory.mktemp("hist")) as engine:
        jobs = _jobs()
        now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        write_runs(plan_runs(jobs, 300, now=now, deleted=3, seed=11), engine=engine)
        yield engine, {j.name: j for j in jobs[:-1]}  # the last job is "deleted": runs, no stored job


def _session(engine):
    from sqlalchemy.orm import Session

    return contextlib.closing(Session(engine))


_ALL_ROWS: dict[tuple, list] = {}


def _reference(engine, stored, query, *, job_name=None, readable=None):
    """The Python definition: every row of the scope built, then filtered, ordered and paged (the rows are
    built once per scope: they do not depend on the query)."""
    from airflow_sync.api.odata import apply_odata, filter_rows
    from airflow_sync.api.services.history import history_rows

    scope = (id(engine), job_name, readable)
    if scope not in _ALL_ROWS:
        with _session(engine) as session:
            _ALL_ROWS[scope] = history_rows(
                job_name=job_name,
                readable=readable or (lambda ids: ids),
                jobs_by_name=stored,
                session=session,
            )
    rows = _ALL_ROWS[scope]
    return apply_odata(rows, query), (len(filter_rows(rows, query)) if query.count else None)


def _pushed(engine, stored, query, *, job_name=None, readable=None):
    from airflow_sync.api.services import history_sql

    with _session(engine) as session:
        return history_sql.history_page(
            query,
            job_name=job_name,
            readable=readable or (lambda ids: ids),
            jobs=lambda names: {n: stored[n] for n in names if n in stored},
            session=session,
        )


def _query(flt: str | None = None, **options):
    from airflow_sync.api.odata import parse_odata
    from airflow_sync.api.routes.history import SCHEMA

    params = {f"${k}": str(v) for k, v in options.items()}
    if flt is not None:
        params["$filter"] = flt
    return parse_odata(params, schema=SCHEMA)


def _sample(engine, stored):
    rows, _ = _reference(engine, stored, _query())
    return rows


def _filters(rows) -> list[str]:
    """Filters over every field, built from values the data really has."""
    finished = next(r for r in rows if r["RunEndDate"])
    some = rows[len(rows) // 3]
    start = some["RunStartDate"]
    day = start[:10]
    out = [
        f"Id eq {some['Id']}",
        f"Id ne {some['Id']}",
        f"Id gt {some['Id']}",
        f"Id le {some['Id']} and Id ge {int(some['Id']) - 20}",
        f"Id eq '{some['Id']}'",  # a text literal for a number: compared like Python does
        f"RunId eq '{some['RunId']}'",
        "startswith(RunId, 'manual__')",
        f"RunId lt '{some['RunId']}'",
        f"JobId eq '{some['JobId']}'",
        "JobId eq null",
        "JobName eq 'orders'",
        "JobName eq 'ORDERS'",
        "JobName ne 'orders'",
        "JobName eq 'Ünïcode_jöb'",
        "JobName gt 'a' and JobName lt 'u'",
        "JobName ge 'Orders_EU'",
        "contains(JobName, 'der')",
        "contains(JobName, 'DER')",
        "contains(JobName, '%')",
        "contains(JobName, '_')",
        "startswith(JobName, 'Ord')",
        "startswith(JobName, 'ord')",
        "startswith(JobName, 'pct%')",
        "endswith(JobName, 'jöb')",
        "endswith(JobName, '')",
        "not contains(JobName, 'o')",
        "tolower(JobName) eq 'upper'",
        "JobName eq 'deleted_000' or JobName eq 'deleted_002'",
        f"RunStartDate ge {day}",
        f"RunStartDate lt {day} and RunStartDate ge 2026-01-20",
        f"RunStartDate eq {start}",
        f"RunStartDate gt '{start}'",  # text literal for a date
        "RunStartDate le 2026-02-01T00:00:00Z",
        f"RunEndDate ge {finished['RunEndDate'][:10]}",
        "RunEndDate eq null",
        "RunEndDate ne null and RunEndDate lt 2026-02-15",
        "Status eq 'Failed'",
        "Status eq 'failed'",
        "Status ne 'Successful'",
        "Status eq 'Cancelled' or Status eq 'Running'",
        "Status eq 'Queued'",
        "Status gt 'Q'",
        "contains(Status, 'ess')",
        "Details eq 'Completed'",
        "startswith(Details, '1 of')",
        "Runtime gt '00:05:00'",
        "RecordsAffected gt 1000",
        "RecordsAffected eq 0",
        "RunType eq 'scheduled'",
        "RunType ne 'manual' and Status eq 'Successful'",
        f"LogFile eq '{some['LogFile']}'",
        "InstanceId eq 'worker-a.example.net'",
        "InstanceId eq ''",
        "not (Status eq 'Successful' or RunType eq 'manual')",
        "not (RecordsAffected gt 100) and JobName eq 'orders'",
        "(Status eq 'Failed' and JobName eq 'a') or (Status eq 'Successful' and RecordsAffected eq 25)",
        f"Status eq 'Successful' and RunStartDate ge {day} and JobName ne 'a'",
        "true",
        "false or JobName eq 'UPPER'",
        "Id eq null",
        "Status eq null",
    ]
    return out


class _FixedNow(datetime):
    """``datetime`` whose ``now()`` stands still: a running run's Runtime is measured up to now."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _still():
    from airflow_sync.api.services import history, history_sql

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(history, "datetime", _FixedNow)
        mp.setattr(history_sql, "datetime", _FixedNow)
        yield


@pytest.fixture(scope="module")
def sample(db, _still):
    engine, stored = db
    return _sample(engine, stored)


def test_every_field_and_operator_gives_the_python_answer(db, sample):
    engine, stored = db
    assert {r["Status"] for r in sample} >= {"Successful", "Failed", "Cancelled", "Running", "Queued"}
    for flt in _filters(sample):
        for options in ({}, {"top": 7, "skip": 3, "count": "true"}):
            query = _query(flt, **options)
            assert _pushed(engine, stored, query) == _reference(engine, stored, query), (flt, options)


def test_every_order_with_paging_gives_the_python_answer(db, sample):
    from airflow_sync.api.routes.history import SCHEMA

    engine, stored = db
    for field, direction in itertools.product(SCHEMA, ("asc", "desc")):
        query = _query("Id gt 5", orderby=f"{field} {direction},Id asc", top=11, skip=4, count="true")
        assert _pushed(engine, stored, query) == _reference(engine, stored, query), (field, direction)
    query = _query(orderby="Status desc,RunStartDate asc", top=30, select="Id,Status,RunStartDate")
    assert _pushed(engine, stored, query) == _reference(engine, stored, query)


def readable(ids):
    """A caller who may read only some jobs."""
    return {d for d in ids if "o" in d.lower()}


def test_job_and_caller_scopes_give_the_python_answer(db, sample):
    engine, stored = db
    for flt, job_name in (("Status eq 'Failed'", None), (None, "orders"), ("Id gt 3", "deleted_001")):
        for who in (None, readable):
            query = _query(flt, top=9, count="true")
            got = _pushed(engine, stored, query, job_name=job_name, readable=who)
            assert got == _reference(engine, stored, query, job_name=job_name, readable=who), (flt, job_name)
    assert _pushed(engine, stored, _query(), readable=lambda ids: set())[0] == []


def test_filters_on_job_status_and_dates_are_answered_by_the_database(db, sample, monkeypatch):
    """Only the rows of the page are built (task instances, XComs, commit records read) for these filters —
    plus, for Status, the runs only their outcome decides (a cancelJob that may have come too late, a
    PreJob that cancelled), which the database cannot."""
    from airflow_sync.api.services import history_sql

    engine, stored = db
    undecidable = sum(
        1 for r in sample if r["Status"] == "Cancelled" or "cancel came too late" in r["Details"]
    )
    assert 0 < undecidable < len(sample) // 5
    built: list[int] = []
    real = history_sql._rows

    def counting(runs, jobs, *, session):
        built.append(len(runs))
        return real(runs, jobs, session=session)

    monkeypatch.setattr(history_sql, "_rows", counting)
    day = (datetime(2026, 3, 1, tzinfo=UTC) - timedelta(days=30)).date()
    for flt, extra in (
        (None, 0),
        ("JobName eq 'orders'", 0),
        (f"RunStartDate ge {day} and RunStartDate lt {day + timedelta(days=7)}", 0),
        ("RunType eq 'manual' and Id gt 20", 0),
        ("Status eq 'Failed'", 0),  # a cancelled run is never Failed: decided by SQL alone
        ("Status eq 'Running' or Status eq 'Queued'", 0),
        (f"Status eq 'Successful' and RunStartDate ge {day} and not startswith(JobName, 'a')", undecidable),
        ("Status ne 'Cancelled'", undecidable),
        ("RunEndDate eq null or RunType eq 'manual'", undecidable),
    ):
        built.clear()
        rows, count = _pushed(engine, stored, _query(flt, top=5, count="true", orderby="RunStartDate desc"))
        assert len(rows) <= 5 and count is not None and count >= len(rows), flt
        assert sum(built) <= len(rows) + extra, (flt, built)
    # computed from XComs: Python decides every run to count them, only a stretch for a page
    built.clear()
    _pushed(engine, stored, _query("RecordsAffected gt 100", top=5, count="true"))
    assert sum(built) == len(sample)
    built.clear()
    _pushed(engine, stored, _query("RecordsAffected gt 100", top=5))
    assert 5 <= sum(built) < len(sample) // 4

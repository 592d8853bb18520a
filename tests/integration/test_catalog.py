"""The job catalog (decoded jobs kept per process) never serves what the database no longer holds: a write
through the store, an edit of the Variable by hand, a rotated Fernet key, a broken value and a delete are all
seen on the next read — on SQLite (values hashed in Python) and PostgreSQL (hashed by the database, unchanged
values not read at all)."""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.conftest import RUN_ID
from tests.integration.airflow_tables import airflow_tables_db


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request, tmp_path, monkeypatch):
    """A session on a fresh database with Airflow's tables; Variables encrypted with a real Fernet key."""
    from airflow.models import crypto, variable
    from cryptography.fernet import Fernet, MultiFernet
    from sqlalchemy.orm import Session

    from airflow_sync.jobs import catalog

    keys = [Fernet(Fernet.generate_key())]
    fernet = crypto._RealFernet(MultiFernet(keys))  # what get_fernet() returns with a [core] fernet_key
    monkeypatch.setattr(crypto, "get_fernet", lambda: fernet)
    monkeypatch.setattr(variable, "get_fernet", lambda: fernet)
    with airflow_tables_db(request.param, f"as_cat_{RUN_ID}", tmp_path) as engine:
        catalog.clear()
        try:
            with contextlib.closing(Session(engine)) as s:
                s.info["fernet"] = fernet
                yield s
        finally:
            catalog.clear()


def _job(name: str, **fields):
    from airflow_sync.jobs.model import Job

    body = {"JobName": name, "Source": "s", "Destination": "d", "Query#1": "REPLICATE [orders]", **fields}
    return Job.from_wire(body)


def _put(session, job) -> None:
    from airflow.models.variable import Variable
    from sqlalchemy import select

    from airflow_sync.jobs.store import _encode, variable_key

    row = session.scalars(select(Variable).where(Variable.key == variable_key(job.name))).one_or_none()
    if row is None:
        session.add(Variable(key=variable_key(job.name), val=_encode(job)))
    else:
        row.val = _encode(job)
    session.commit()


def _counting(monkeypatch):
    from airflow_sync.jobs import catalog

    decoded: list[str] = []
    real = catalog._decode

    def counting(key, val, encrypted):
        decoded.append(key)
        return real(key, val, encrypted)

    monkeypatch.setattr(catalog, "_decode", counting)
    return decoded


def test_unchanged_jobs_are_decoded_once_and_every_change_is_seen(session, monkeypatch, caplog):
    from airflow.models.variable import Variable
    from sqlalchemy import select, update

    from airflow_sync.jobs import catalog
    from airflow_sync.jobs.store import variable_key

    for n in range(5):
        _put(session, _job(f"job{n}", Verbosity="2"))
    decoded = _counting(monkeypatch)
    assert [j.name for j in catalog.read_all(session)] == [f"job{n}" for n in range(5)]
    assert len(decoded) == 5
    decoded.clear()
    assert len(catalog.read_all(session)) == 5 and decoded == []  # nothing changed: nothing decoded
    assert set(catalog.read_names({"job1", "job3", "nope"}, session=session)) == {"job1", "job3"}
    assert decoded == []

    _put(session, _job("job2", Verbosity="4"))  # a write (re-encrypted)
    jobs = {j.name: j for j in catalog.read_all(session)}
    assert decoded == [variable_key("job2")] and jobs["job2"].verbosity == 4

    # an edit by hand, another process's write or a rotated key: the stored value differs, so it is read
    decoded.clear()
    fernet = session.info["fernet"]
    raw = json.dumps(_job("job3", Verbosity="1").to_store())
    session.execute(
        update(Variable)
        .where(Variable.key == variable_key("job3"))
        .values(_val=fernet.encrypt(raw.encode()).decode(), is_encrypted=True)
    )
    session.commit()
    assert catalog.read_names({"job3"}, session=session)["job3"].verbosity == 1
    assert decoded == [variable_key("job3")]

    # a value that does not decode is left out (logged once), a deleted job is gone
    session.execute(update(Variable).where(Variable.key == variable_key("job4")).values(_val="garbage"))
    session.delete(session.scalars(select(Variable).where(Variable.key == variable_key("job0"))).one())
    session.commit()
    with caplog.at_level("WARNING", logger="airflow_sync.jobs.catalog"):
        names = [j.name for j in catalog.read_all(session)]
        again = [j.name for j in catalog.read_all(session)]
    assert names == again == ["job1", "job2", "job3"]
    assert sum("Skipping stored job airflow_sync.job.job4" in r.getMessage() for r in caplog.records) == 1
    assert variable_key("job0") not in catalog._decoded

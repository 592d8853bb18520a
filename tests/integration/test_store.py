"""The job store against a real Airflow metadata DB: round trip, conflicts, concurrency, parse requests."""

from __future__ import annotations

import json
import threading

import pytest

from airflow_sync.exceptions import JobConflictError, JobExistsError, JobNotFoundError, JobValidationError

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")


@pytest.fixture(scope="module")
def conns(airflow_db, tmp_path_factory):
    """Two SQLite connections as Airflow sees them in production: through the secrets chain (env)."""
    import os

    folder = tmp_path_factory.mktemp("store_conns")
    env = {
        "AIRFLOW_CONN_STORE_SRC": json.dumps({"conn_type": "sqlite", "host": str(folder / "src.db")}),
        "AIRFLOW_CONN_STORE_DST": json.dumps({"conn_type": "sqlite", "host": str(folder / "dst.db")}),
    }
    os.environ.update(env)
    yield "store_src", "store_dst"
    # leave no job behind that points at connections which vanish with this module (other modules export
    # or list every stored job)
    from airflow_sync.jobs import store

    for job in store.list_jobs():
        if job.source == "store_src":
            store.delete_job(job.name)
    for key in env:
        os.environ.pop(key, None)


def make_job(name: str, *queries: str, **fields):
    from airflow_sync.jobs.model import Job

    body = {"JobName": name, "Source": "store_src", "Destination": "store_dst", **fields}
    for i, q in enumerate(queries or ("REPLICATE [orders]",), start=1):
        body[f"Query#{i}"] = q
    return Job.from_wire(body)


def stored_value(name: str) -> dict | None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_sync.jobs.store import variable_key

    with create_session() as s:
        row = s.scalars(select(Variable).where(Variable.key == variable_key(name))).one_or_none()
        return None if row is None else json.loads(row.val)


def parse_requests() -> list[tuple[str, str]]:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        rows = s.scalars(select(DagPriorityParsingRequest)).all()
        return [(r.bundle_name, r.relative_fileloc) for r in rows]


def clear_parse_requests() -> None:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as s:
        s.execute(delete(DagPriorityParsingRequest))


def test_round_trip_through_one_variable_per_job(conns):
    from airflow_sync.jobs import store

    job = make_job("rt_orders", "REPLICATE [orders]", "REPLICATE [lines]", Verbosity="3")
    store.create_job(job)

    value = stored_value("rt_orders")
    assert value is not None and value["version"] == job.version
    loaded = store.get_job("rt_orders")
    assert loaded == job
    assert loaded.job_id == job.job_id
    assert store.find_job(job.job_id.upper()) == job
    assert "rt_orders" in [j.name for j in store.list_jobs()]
    with pytest.raises(JobNotFoundError):
        store.get_job("RT_ORDERS")  # names are case-sensitive
    with pytest.raises(JobNotFoundError):
        store.find_job("no-such-job")


def test_create_refuses_existing_name_and_keeps_the_stored_job(conns):
    from airflow_sync.jobs import store

    first = make_job("dup_job", "REPLICATE [a]")
    store.create_job(first)
    with pytest.raises(JobExistsError):
        store.create_job(make_job("dup_job", "REPLICATE [b]"))
    assert store.get_job("dup_job") == first


def test_create_refuses_a_missing_connection_and_stores_nothing(conns):
    from airflow_sync.jobs import store

    job = make_job("bad_conn", Source="nope_conn")
    with pytest.raises(JobValidationError) as err:
        store.create_job(job)
    assert err.value.field == "Source"
    assert stored_value("bad_conn") is None


def test_update_checks_the_expected_version_and_keeps_the_job_id(conns):
    from airflow_sync.jobs import store

    job = store.create_job(make_job("upd_job", "REPLICATE [a]"))
    edited = job.patched({"Query#1": "REPLICATE [b]"})
    stored = store.update_job(edited, expected_version=job.version)
    assert store.get_job("upd_job").queries == ("REPLICATE [b]",)
    assert stored.job_id == job.job_id and store.get_job("upd_job").job_id == job.job_id

    stale = job.patched({"Query#1": "REPLICATE [c]"})
    with pytest.raises(JobConflictError):
        store.update_job(stale, expected_version=job.version)
    assert store.get_job("upd_job").queries == ("REPLICATE [b]",)
    with pytest.raises(JobNotFoundError):
        store.update_job(make_job("never_created"), expected_version=None)


def test_concurrent_updates_with_the_same_base_version_one_wins(conns):
    """Writer A holds its transaction open; writer B, based on the same version, must not slip through."""
    from airflow.utils.session import create_session

    from airflow_sync.jobs import store

    base = store.create_job(make_job("race_job", "REPLICATE [a]"))
    results: dict[str, object] = {}
    b_finished = threading.Event()

    def writer_a():
        with create_session() as s:
            edit = base.patched({"Query#1": "REPLICATE [from_a]"})
            store.update_job(edit, expected_version=base.version, session=s)
            results["a"] = "ok"
            # Keep A's transaction open until B is done or clearly blocked behind A's lock.
            b_finished.wait(timeout=1.5)
        # leaving the block commits A

    def writer_b():
        try:
            store.update_job(base.patched({"Query#1": "REPLICATE [from_b]"}), expected_version=base.version)
            results["b"] = "ok"
        except JobConflictError:
            results["b"] = "conflict"
        finally:
            b_finished.set()

    ta = threading.Thread(target=writer_a)
    ta.start()
    while "a" not in results and ta.is_alive():  # A holds the lock before B starts
        threading.Event().wait(0.01)
    tb = threading.Thread(target=writer_b)
    tb.start()
    ta.join(10)
    tb.join(10)
    assert results == {"a": "ok", "b": "conflict"}
    assert store.get_job("race_job").queries == ("REPLICATE [from_a]",)


def test_each_write_requests_a_parse_and_duplicates_do_not_roll_back(conns):
    from airflow_sync import settings
    from airflow_sync.jobs import store

    clear_parse_requests()
    store.create_job(make_job("parse_a"))
    store.create_job(make_job("parse_b"))  # the first request is still unclaimed: duplicate key
    job = store.get_job("parse_a")
    store.update_job(job.patched({"Query#1": "REPLICATE [z]"}), expected_version=job.version)
    assert parse_requests() == [(settings.get_str("dag_bundle_name"), settings.get_str("dag_shim_fileloc"))]
    assert stored_value("parse_b") is not None
    assert store.get_job("parse_a").queries == ("REPLICATE [z]",)


def test_delete_removes_the_job(conns):
    from airflow_sync.jobs import store

    store.create_job(make_job("del_job"))
    store.delete_job("del_job")
    assert stored_value("del_job") is None
    with pytest.raises(JobNotFoundError):
        store.delete_job("del_job")


def test_a_broken_stored_value_is_left_out_of_the_list(conns):
    from airflow.models.variable import Variable

    from airflow_sync.jobs import store

    Variable.set(store.variable_key("zz_broken"), '{"not": "a job"}')
    try:
        names = [j.name for j in store.list_jobs()]
        assert "zz_broken" not in names
        assert "dup_job" in names
        store.delete_job("zz_broken")  # still deletable
        assert stored_value("zz_broken") is None
    finally:
        Variable.delete(store.variable_key("zz_broken"))


def test_create_refuses_a_job_id_that_another_job_has(conns):
    from airflow_sync.jobs import store

    first = store.create_job(make_job("id_owner", "REPLICATE [a]"))
    copy = make_job("id_thief", "REPLICATE [b]", JobId=first.job_id.upper())
    assert copy.job_id.lower() == first.job_id.lower()  # the body's JobId is adopted
    with pytest.raises(JobExistsError) as err:
        store.create_job(copy)
    assert first.job_id in str(err.value) and "'id_owner'" in str(err.value)
    assert stored_value("id_thief") is None
    assert store.find_job(first.job_id) == first
    store.create_job(make_job("id_fresh", "REPLICATE [c]"))  # without JobId: a new id, accepted
    assert store.get_job("id_fresh").job_id != first.job_id


def test_a_create_inside_a_callers_transaction_rolls_back_with_it(conns):
    # pysqlite sends BEGIN only before DML: a store write that started with a SAVEPOINT ran outside any
    # transaction, and releasing the SAVEPOINT committed the job before the caller decided to roll back
    from airflow.utils.session import create_session

    from airflow_sync.jobs import store

    with pytest.raises(RuntimeError, match="caller failed"), create_session() as s:
        store.create_job(make_job("st_rollback"), session=s)
        raise RuntimeError("caller failed after the write")
    assert stored_value("st_rollback") is None

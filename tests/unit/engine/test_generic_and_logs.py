"""The generic SQLAlchemy path (exercised over SQLite) and what the engine logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from airflow_sync.engine import replicate
from airflow_sync.engine.dialects import supported_url
from airflow_sync.engine.dialects.generic import GenericDialect
from airflow_sync.engine.replicate import run_replication
from tests.unit.engine.conftest import make_plan


@pytest.fixture
def generic(monkeypatch):
    monkeypatch.setattr(replicate, "dialect_for", lambda url: GenericDialect(make_url(url)))


def _seed(src, n=50):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, name VARCHAR(20), amount NUMERIC(10,2), b BOOLEAN)')
    src.many('INSERT INTO "src" VALUES (?, ?, ?, ?)', [(i, f"n{i}", f"{i}.5", i % 2) for i in range(n)])


def test_generic_path_full_merge_and_drop(src, dst, generic):
    _seed(src)
    first = run_replication(make_plan(batch_size=7), src.url, dst.url)
    assert first.table_created and first.rows_inserted == 50
    src.run('DELETE FROM "src" WHERE id < 5')
    src.run("UPDATE \"src\" SET name = 'x' WHERE id = 10")
    second = run_replication(make_plan(), src.url, dst.url)
    assert (second.rows_inserted, second.rows_updated, second.rows_deleted) == (0, 1, 5)
    third = run_replication(make_plan(drop_table=True), src.url, dst.url)
    assert third.rows_inserted == 45
    assert [r[0] for r in dst.rows('SELECT id FROM "src" ORDER BY id')] == list(range(5, 50))


def test_supported_urls():
    assert supported_url("sqlite:////tmp/x.db") and supported_url("postgresql+psycopg://u@h/db")
    assert supported_url("mysql+pymysql://u@h/db")
    assert not supported_url("nosuchdb://u@h/db")


def test_logs_counts_and_timings_never_values(src, dst, caplog):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, secret TEXT)')
    src.many('INSERT INTO "src" VALUES (?, ?)', [(i, f"hunter2-{i}") for i in range(30)])
    with caplog.at_level(logging.DEBUG, logger="airflow_sync.engine"):
        run_replication(make_plan(batch_size=10, verbosity=4), src.url, dst.url)
    text = caplog.text
    assert "batch 3: 10 rows" in text and "read 30, inserted 30" in text
    assert "hunter2" not in text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="airflow_sync.engine"):
        run_replication(make_plan(batch_size=10, verbosity=0), src.url, dst.url)
    assert caplog.text == ""

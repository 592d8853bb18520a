from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.statement import TableRef


def make_plan(source: str = "src", destination: str | None = None, **kw) -> ReplicationPlan:
    """A plan for one query; ``source`` may be dotted-free table name."""
    return ReplicationPlan(
        job_name=kw.pop("job_name", "job"),
        query_id=kw.pop("query_id", "q1"),
        source=TableRef((source,)),
        destination=destination or source,
        **kw,
    )


class SQLiteDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def run(self, sql: str, params=()) -> None:
        with sqlite3.connect(self.path) as c:
            c.execute(sql, params)

    def many(self, sql: str, rows) -> None:
        with sqlite3.connect(self.path) as c:
            c.executemany(sql, rows)

    def rows(self, sql: str, params=()) -> list[tuple]:
        c = sqlite3.connect(self.path)
        try:
            return c.execute(sql, params).fetchall()
        finally:
            c.close()


@pytest.fixture(autouse=True)
def row_path(monkeypatch):
    """Unit tests exercise the row path (batches, conversions); the in-engine copy is tested separately."""
    from airflow_sync.engine import hooks

    monkeypatch.setattr(hooks, "IN_ENGINE_COPY", False)


@pytest.fixture
def src(tmp_path) -> SQLiteDB:
    return SQLiteDB(tmp_path / "source.db")


@pytest.fixture
def dst(tmp_path) -> SQLiteDB:
    return SQLiteDB(tmp_path / "destination.db")

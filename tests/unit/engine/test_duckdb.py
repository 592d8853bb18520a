"""DuckDB through the generic SQLAlchemy path (airflow-provider-duckdb's URL, duckdb_engine), end to end:
one connection per database file (DuckDB refuses a second one with another configuration) and reflection
through information_schema (duckdb_engine's own catalog queries fail under SQLAlchemy 2.1)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from airflow_sync.engine.replicate import run_replication
from tests.unit.engine.conftest import make_plan

duckdb = pytest.importorskip("duckdb")

ROWS = [
    (1, "a", "1.25", "2024-01-01 10:00:00.5", "2024-02-01", 1 / 3, 1),
    (2, "Zoë 😀", "-0.01", "2024-01-02 00:00:00", "1999-12-31", -2.5, 0),
    (3, None, None, None, None, None, None),
]
EXPECTED = [
    (1, "a", Decimal("1.25"), datetime(2024, 1, 1, 10, 0, 0, 500000), date(2024, 2, 1), 1 / 3, True),
    (2, "Zoë 😀", Decimal("-0.01"), datetime(2024, 1, 2), date(1999, 12, 31), -2.5, False),
    (3, None, None, None, None, None, None),
]


def _seed(src) -> None:
    src.run(
        'CREATE TABLE "src" (id INTEGER PRIMARY KEY, name VARCHAR(20), amount NUMERIC(12,2), ts DATETIME, '
        "d DATE, f DOUBLE, b BOOLEAN)"
    )
    src.many('INSERT INTO "src" VALUES (?,?,?,?,?,?,?)', ROWS)


def _duck_rows(path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        return con.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()
    finally:
        con.close()


def test_sqlite_to_duckdb_creates_loads_merges_and_back(src, tmp_path):
    _seed(src)
    duck = tmp_path / "w.duckdb"
    url = f"duckdb:///{duck}"
    first = run_replication(make_plan(), src.url, url)
    assert (first.table_created, first.rows_inserted) == (True, 3)
    assert _duck_rows(duck, "src") == EXPECTED

    src.run("UPDATE \"src\" SET name = 'b' WHERE id = 1")
    src.run('DELETE FROM "src" WHERE id = 2')
    again = run_replication(make_plan(), src.url, url)  # staged merge into the existing table
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 1, 1)
    assert [r[:2] for r in _duck_rows(duck, "src")] == [(1, "b"), (3, None)]

    back = run_replication(make_plan("src", "back"), url, src.url)
    assert back.rows_inserted == 2
    assert src.rows('SELECT id, name, amount, ts, d, b FROM "back" ORDER BY id') == [
        (1, "b", 1.25, "2024-01-01 10:00:00.500000", "2024-02-01", 1),
        (3, None, None, None, None, None),
    ]


def test_duckdb_to_duckdb_incremental(src, tmp_path):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT, updated_at DATETIME)')
    src.many('INSERT INTO "src" VALUES (?,?,?)', [(i, f"v{i}", "2024-01-01 00:00:00") for i in range(5)])
    a, b = f"duckdb:///{tmp_path / 'a.duckdb'}", f"duckdb:///{tmp_path / 'b.duckdb'}"
    run_replication(make_plan(), src.url, a)
    first = run_replication(make_plan(), a, b)
    assert (first.mode, first.rows_inserted) == ("incremental", 5)
    con = duckdb.connect(str(tmp_path / "a.duckdb"))
    # a second before now: a run reads changes up to its own start, exclusive
    con.execute(
        "UPDATE src SET v = 'new', updated_at = ? WHERE id = 3", [datetime.now() - timedelta(seconds=2)]
    )
    con.close()
    second = run_replication(make_plan(), a, b)
    assert (second.rows_read, second.rows_updated, second.rows_inserted) == (1, 1, 0)
    assert _duck_rows(tmp_path / "b.duckdb", "src")[3][:2] == (3, "new")

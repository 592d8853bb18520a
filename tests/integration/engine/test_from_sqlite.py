"""From SQLite into PostgreSQL and MariaDB, SQLite's stored text goes to the destination as it is when a
bulk check of the fetched column shows it is the text the row path would produce (convert.RowConverter
shortcuts); any other column of the batch is converted. The stored result must equal the row path's."""

from __future__ import annotations

import pytest

from airflow_sync.engine import convert
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend

DDL = (
    'CREATE TABLE "fs src" (id INTEGER PRIMARY KEY, ts DATETIME, d DATE, amount NUMERIC(12,2), '
    "wide DECIMAL_TEXT(30,4), flag BOOLEAN, name VARCHAR(10))"
)
CLEAN = [
    (1, "2024-01-01 10:00:00.5", "2024-02-29", 12.5, "12345678901234567890.1234", 1, "a'b\\c"),
    (2, "2024-01-01 10:00:00", "1999-12-31", -0.01, "-1.0000", 0, "Zoë"),
    (3, None, None, None, None, None, None),
]
# values only the row path handles: a zone suffix, a date with a time, a decimal held as text, a boolean
# as a word, a number in a text column
DIRTY = [
    (4, "2024-01-01T10:00:00+02:00", "2024-03-01 00:00:00", "7.25", "1e3", "true", 42),
    (5, "2024-01-01 10:00:00Z", "2024-03-02", 3, "0", "no", "x"),
]


def _plan(dest: str) -> ReplicationPlan:
    return ReplicationPlan(
        job_name="fs", query_id=dest, source=TableRef(("fs src",)), destination=dest, use_gmt=True
    )


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
@pytest.mark.parametrize("rows", [CLEAN, CLEAN + DIRTY], ids=["clean", "dirty"])
def test_stored_text_passes_only_where_the_row_path_would_write_the_same(
    request, monkeypatch, dst_name, rows
):
    src, dst = get_backend(request, "sqlite"), get_backend(request, dst_name)
    src.run('DROP TABLE IF EXISTS "fs src"', DDL)
    src.many('INSERT INTO "fs src" VALUES (?,?,?,?,?,?,?)', rows)
    for table in ("fs fast", "fs rows"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
    used: list[int] = []
    real = convert.RowConverter._shortcut

    def spy(*a):
        check = real(*a)
        if check is None:
            return None
        return lambda col: (used.append(1), check(col))[1]

    monkeypatch.setattr(convert.RowConverter, "_shortcut", staticmethod(spy))
    run_replication(_plan("fs fast"), src.url, dst.url)
    assert used, "the shortcut must be tried"
    monkeypatch.setattr(convert.RowConverter, "_shortcut", staticmethod(lambda *a: None))
    run_replication(_plan("fs rows"), src.url, dst.url)
    order = f" ORDER BY {dst.q('id')}"
    assert dst.rows(f"SELECT * FROM {dst.q('fs fast')}{order}") == dst.rows(
        f"SELECT * FROM {dst.q('fs rows')}{order}"
    )

"""A SQLite source through Arrow into PostgreSQL and MariaDB (engine/dialects/sqlite_arrow.py, ADR 0006):
what it stores equals the row path's, value for value; a batch holding a value the path cannot render as
the row path would sends the whole load back to a savepoint and down the row path; cancel and the commit
guard hold; without the optional extra the row path runs."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_sync.engine import hooks, route, write
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects import sqlite_arrow
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import cancel_at, get_backend

DDL = (
    'CREATE TABLE "sa src" (id INTEGER PRIMARY KEY, n BIGINT, amount NUMERIC(12,2), ratio DOUBLE, '
    "flag BOOLEAN, name VARCHAR(40), body TEXT, ts DATETIME, d DATE)"
)
TRICKY = "tab\there nl\nhere cr\rhere \\ back \\N \\\\N 'q' \"dq\" Zoë 😀 𝄞 \x0cff\x0bvt"
CLEAN = [
    (1, 9223372036854775807, 12.5, 1 / 3, 1, "a\tb\nc\rd\\e\\Nf'g\"h😀", TRICKY, "2024-02-29 23:59:59.999999",
     "2024-02-29"),
    (2, -9223372036854775808, -9999999999.99, 1.7976931348623157e308, 0, "", "", "1970-01-01 00:00:00",
     "1000-01-01"),
    (3, 0, 5, 5e-324, 0, "\\N", "\\", "2024-01-01 10:00:00.5", "9999-12-31"),
    (4, 1, 0.01, -0.0, 1, "NULL", "x" * 500, "2024-10-27 02:30:00.000001", "2024-10-27"),
    (5, None, None, None, None, None, None, None, None),
    (6, 7, 123456.78, 2.5e-5, None, "Ärger", None, None, "2000-01-01"),
]  # fmt: skip
# one value per row that the Arrow path cannot prove it would store as the row path does (each in a later
# batch); the row path then decides, storing it or failing as it always did
DIRTY = {
    "real in an integer column": (10, 1.5, None, None, None, None, None, None, None),
    "blob in a text column": (10, None, None, None, None, b"A", None, None, None),
    "blob in a timestamp column": (10, None, None, None, None, None, None, b"2024-01-01 00:00:00", None),
    "zone suffix": (10, None, None, None, None, None, None, "2024-01-01 10:00:00+02:00", None),
    "date with a time": (10, None, None, None, None, None, None, None, "2024-03-01 00:00:00"),
    "boolean word": (10, None, None, None, "true", None, None, None, None),
    "boolean 2": (10, None, None, None, 2, None, None, None, None),
    "decimal past its scale": (10, None, 1.005, None, None, None, None, None, None),
    "decimal held as text": (10, None, "n/a", None, None, None, None, None, None),
    "string longer than the column": (10, None, None, None, None, "y" * 41, None, None, None),
}


def _plan(dest: str, **kw) -> ReplicationPlan:
    return ReplicationPlan(
        job_name="sa", query_id=dest, source=TableRef(("sa src",)), destination=dest, use_gmt=True, **kw
    )


class Spy:
    """Records what each Arrow load returned (rows, or None when it handed over to the row path)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[int | None] = []
        real = write._copy_arrow

        def spy(*a, **kw):
            n = real(*a, **kw)
            self.results.append(n)
            return n

        monkeypatch.setattr(write, "_copy_arrow", spy)


def _source(request, rows: list[tuple]):
    src = get_backend(request, "sqlite")
    src.run('DROP TABLE IF EXISTS "sa src"', DDL)
    src.many('INSERT INTO "sa src" VALUES (?,?,?,?,?,?,?,?,?)', rows)
    return src


def _outcome(dst, src, table: str, **kw) -> list | str:
    """The rows a run stored, or the kind of error it failed with."""
    try:
        run_replication(_plan(table, **kw), src.url, dst.url)
    except Exception as exc:
        return type(exc).__name__
    return dst.rows(f"SELECT * FROM {dst.q(table)} ORDER BY {dst.q('id')}")


def _both_paths(request, monkeypatch, dst_name: str, rows: list[tuple], **kw) -> tuple[Any, Any, Spy]:
    src, dst = _source(request, rows), get_backend(request, dst_name)
    for t in ("sa fast", "sa rows"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(t)}")
    spy = Spy(monkeypatch)
    fast = _outcome(dst, src, "sa fast", **kw)
    monkeypatch.setattr(hooks, "ARROW", False)
    slow = _outcome(dst, src, "sa rows", **kw)
    monkeypatch.setattr(hooks, "ARROW", True)
    return fast, slow, spy


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_arrow_stores_every_value_as_the_row_path_does(request, monkeypatch, dst_name):
    # batches of 2 rows: the sentinel row, NULL-only first batches and the block seams are all exercised
    monkeypatch.setattr(sqlite_arrow, "MIN_BATCH", 2)
    fast, slow, spy = _both_paths(request, monkeypatch, dst_name, CLEAN, batch_size=1)
    assert spy.results == [len(CLEAN)]
    assert fast == slow
    assert len(fast) == len(CLEAN)


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
@pytest.mark.parametrize("case", list(DIRTY))
def test_a_value_only_the_row_path_stores_exactly_sends_the_load_down_the_row_path(
    request, monkeypatch, dst_name, case
):
    monkeypatch.setattr(sqlite_arrow, "MIN_BATCH", 2)
    rows = [*CLEAN, DIRTY[case]]
    # the row path cuts the over-long string: both paths must then agree on the cut value too
    fast, slow, spy = _both_paths(
        request, monkeypatch, dst_name, rows, batch_size=1, auto_truncate_strings=True
    )
    assert spy.results == [None], "the Arrow load hands over to the row path"
    assert fast == slow
    assert isinstance(fast, str) or len(fast) == len(rows)


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_integers_a_double_would_round_take_the_row_path(request, monkeypatch, dst_name):
    src, dst = get_backend(request, "sqlite"), get_backend(request, dst_name)
    src.run(
        'DROP TABLE IF EXISTS "sa wide"',
        'CREATE TABLE "sa wide" (id INTEGER PRIMARY KEY, amount NUMERIC(30,2))',
    )
    src.many('INSERT INTO "sa wide" VALUES (?,?)', [(1, 5), (2, 2**53 - 1), (3, 2**60 + 1)])
    dst.run(f"DROP TABLE IF EXISTS {dst.q('sa wide')}")
    spy = Spy(monkeypatch)
    plan = ReplicationPlan(job_name="sa", query_id="w", source=TableRef(("sa wide",)), destination="sa wide")
    run_replication(plan, src.url, dst.url)
    assert spy.results == [None]
    got = dst.rows(f"SELECT {dst.q('amount')} FROM {dst.q('sa wide')} ORDER BY {dst.q('id')}")
    assert [int(v) for (v,) in got] == [5, 2**53 - 1, 2**60 + 1]


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_a_column_null_through_its_first_batch_keeps_its_type(request, monkeypatch, dst_name):
    monkeypatch.setattr(sqlite_arrow, "MIN_BATCH", 2)
    rows = [(i, None, None, None, None, None, None, None, None) for i in range(1, 6)] + CLEAN[:4]
    rows = [(i + 1, *r[1:]) for i, r in enumerate(rows)]
    fast, slow, spy = _both_paths(request, monkeypatch, dst_name, rows, batch_size=1)
    assert spy.results == [len(rows)]
    assert fast == slow


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_incremental_merge_through_arrow_updates_and_keeps_the_watermark(request, monkeypatch, dst_name):
    src, dst = _source(request, CLEAN), get_backend(request, dst_name)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('sa inc')}")
    spy = Spy(monkeypatch)
    # a far offset: the watermark is the largest value read, not the run start
    plan = _plan("sa inc", incremental_check_columns=("ts",), max_lastmod_offset=400_000_000)
    first = run_replication(plan, src.url, dst.url)
    src.run("UPDATE \"sa src\" SET name = 'changed', ts = '2025-06-01 00:00:00.5' WHERE id = 2")
    second = run_replication(plan, src.url, dst.url)
    assert spy.results == [4, 2], "the rows with a check value, then the changed one and the newest (>=)"
    assert (first.rows_inserted, second.rows_updated) == (4, 1)
    assert (first.watermark_after, second.watermark_after) == (
        "2024-10-27T02:30:00.000001",
        "2025-06-01T00:00:00.500000",
    )
    assert dst.rows(f"SELECT {dst.q('name')} FROM {dst.q('sa inc')} WHERE {dst.q('id')} = 2") == [
        ("changed",)
    ]


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_cancel_mid_arrow_load_stops_and_keeps_the_old_contents(request, monkeypatch, dst_name):
    monkeypatch.setattr(sqlite_arrow, "MIN_BATCH", 500)
    rows = [(i, i, 1.5, 0.5, 1, f"v{i}", None, "2024-01-01 00:00:00", "2024-01-01") for i in range(1, 5001)]
    src, dst = _source(request, rows), get_backend(request, dst_name)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('sa cancel')}")
    run_replication(_plan("sa cancel", batch_size=1), src.url, dst.url)
    before = dst.rows(f"SELECT COUNT(*) FROM {dst.q('sa cancel')}")
    token = CancelToken()
    blocks: list[int] = []
    real = sqlite_arrow.text_blocks

    monkeypatch.setattr(
        sqlite_arrow, "text_blocks", lambda *a, **kw: cancel_at(real(*a, **kw), token, blocks)
    )
    with pytest.raises(ReplicationCancelled):
        run_replication(_plan("sa cancel", batch_size=1, truncate_table=True), src.url, dst.url, cancel=token)
    assert 2 <= len(blocks) <= 7, "the load stops within the blocks read ahead"
    assert dst.rows(f"SELECT COUNT(*) FROM {dst.q('sa cancel')}") == before == [(5000,)]


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_commit_guard_reporting_cancel_stops_an_arrow_load_before_commit(request, monkeypatch, dst_name):
    src, dst = _source(request, CLEAN), get_backend(request, dst_name)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('sa guard')}")
    spy = Spy(monkeypatch)
    asked: list[int] = []
    token = CancelToken()
    token.add_commit_guard(lambda: asked.append(1) or True)
    with pytest.raises(ReplicationCancelled):
        run_replication(_plan("sa guard"), src.url, dst.url, cancel=token)
    assert spy.results == [len(CLEAN)] and asked == [1]
    # PostgreSQL rolled the table's creation back with the rows; MariaDB's DDL committed on its own
    tables = dst.rows("SELECT table_name FROM information_schema.tables WHERE table_name = 'sa guard'")
    assert not tables or dst.rows(f"SELECT COUNT(*) FROM {dst.q('sa guard')}") == [(0,)]


def test_without_the_arrow_extra_the_row_path_runs(request, monkeypatch):
    monkeypatch.setattr(sqlite_arrow, "available", lambda: False)
    src, dst = _source(request, CLEAN), get_backend(request, "postgresql")
    dst.run(f"DROP TABLE IF EXISTS {dst.q('sa none')}")
    spy = Spy(monkeypatch)
    called: list[int] = []
    real = route.arrow_columns
    monkeypatch.setattr(route, "arrow_columns", lambda *a: called.append(1) or real(*a))
    run_replication(_plan("sa none"), src.url, dst.url)
    assert called and spy.results == []
    assert dst.rows(f"SELECT COUNT(*) FROM {dst.q('sa none')}") == [(len(CLEAN),)]

"""A small incremental window from MySQL/MariaDB is read as key ranges at once (engine/split.py): the
destination ends exactly as with one read, and a failing or cancelled range leaves it as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from airflow_sync.engine import read, split
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects.mysql import MySQLDialect
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled, ReplicationError
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import cancel_at, get_backend

ROWS = 8_000


class Streams:
    """Records the text streams the MySQL source opens: their statements and the threads they run on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_last_range: bool = False) -> None:
        self.calls: list[tuple[str, str, int]] = []
        real = MySQLDialect.text_stream
        spy = self

        def text_stream(self: MySQLDialect, conn: Any, sql: str, exprs: Any, size: int) -> Any:
            spy.calls.append((sql, threading.current_thread().name, threading.get_ident()))
            if fail_last_range and "`id` >= " in sql and "`id` < " not in sql:
                raise OSError("the last range's connection was lost")
            return real(self, conn, sql, exprs, size)

        monkeypatch.setattr(MySQLDialect, "text_stream", text_stream)

    def take(self) -> list[tuple[str, str, int]]:
        calls, self.calls = self.calls, []
        return calls


def _source(src, table: str) -> datetime:
    src.run(
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v VARCHAR(20), amount DECIMAL(12, 2), "
        "modified DATETIME(6), KEY (modified))",
    )
    base = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    src.many(
        f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",
        [(i, f"v{i}", Decimal(i) / 4, base + timedelta(microseconds=i)) for i in range(1, ROWS + 1)],
    )
    return base


def _change(src, table: str) -> None:
    """3,000 rows changed across the whole key range, 500 new ones above it."""
    later = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    src.run(
        f"UPDATE {table} SET v = CONCAT('c', id), amount = amount + 1, modified = %s "
        "WHERE id %% 8 IN (1, 2, 5)",
        params=(later,),
    )
    src.many(
        f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",
        [(i, f"n{i}", Decimal("0.01"), later) for i in range(ROWS + 1, ROWS + 501)],
    )


def _copied_then_changed(src, dst, table: str, dest: str) -> list[tuple]:
    """``table`` created and copied into ``dest``, then changed (:func:`_change`); what ``dest`` holds."""
    _source(src, table)
    dst.run(f"DROP TABLE IF EXISTS {dst.q(dest)}")
    run_replication(_plan(table, dest), src.url, dst.url)
    before = _rows(dst, dest)
    _change(src, table)
    return before


def _plan(table: str, dest: str) -> ReplicationPlan:
    return ReplicationPlan(
        job_name="split", query_id=dest, source=TableRef((table,)), destination=dest, batch_size=500,
        verbosity=3,
    )  # fmt: skip


def _rows(db, table: str) -> list[tuple]:
    return [
        (int(i), v, Decimal(str(a)).quantize(Decimal("0.01")))
        for i, v, a in db.rows(f"SELECT id, v, amount FROM {db.q(table)} ORDER BY id")
    ]


@pytest.mark.parametrize("dst_name", ["sqlite", "postgresql"])
def test_a_window_read_in_key_ranges_at_once_lands_as_the_source_holds_it(
    request, monkeypatch, caplog, dst_name
):
    src = get_backend(request, "mysql")
    dst = get_backend(request, dst_name)
    table, dest = "split_src", f"split_to_{dst_name}"
    _source(src, table)
    dst.run(f"DROP TABLE IF EXISTS {dst.q(dest)}")
    streams = Streams(monkeypatch)
    caplog.set_level("DEBUG")
    first = run_replication(_plan(table, dest), src.url, dst.url)
    # a first copy into an empty table is one statement: no key query before it
    assert first.rows_inserted == ROWS and len(streams.take()) == 1
    _change(src, table)
    second = run_replication(_plan(table, dest), src.url, dst.url)
    calls = streams.take()
    # four statements, each on its own helper thread, together covering the key range once
    assert len(calls) == split.PARTS and len({ident for _, _, ident in calls}) == split.PARTS
    assert all(name == "engine-read" for _, name, _ in calls)
    assert sum("`id` >= " in sql and "`id` < " in sql for sql, _, _ in calls) == split.PARTS - 2
    assert "reading 3500 changed rows in 4 key ranges at once" in caplog.text
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (3_500, 500, 3_000)
    assert _rows(dst, dest) == _rows(src, table)


@pytest.mark.parametrize(
    ("rows", "key", "parts"),
    [
        (split.MIN_ROWS - 1, "PRIMARY KEY (id)", 1),
        (split.MIN_ROWS, "PRIMARY KEY (id)", split.PARTS),
        (3_000, "PRIMARY KEY (id, v)", 1),
    ],
    ids=["below-min-rows", "min-rows", "two-column-key"],
)
def test_a_window_is_split_only_from_min_rows_and_by_one_integer_key(request, monkeypatch, rows, key, parts):
    src = get_backend(request, "mysql")
    dst = get_backend(request, "sqlite")
    src.run(
        "DROP TABLE IF EXISTS split_one",
        f"CREATE TABLE split_one (id INTEGER, v VARCHAR(20), modified DATETIME(6), {key}, KEY (modified))",
    )
    base = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    src.many("INSERT INTO split_one VALUES (%s, %s, %s)", [(i, f"v{i}", base) for i in range(rows)])
    dst.run("DROP TABLE IF EXISTS split_one")
    run_replication(_plan("split_one", "split_one"), src.url, dst.url)
    # after the stored watermark (run start - MaxLastModTimeOffset: CData's rule), before the next start
    changed = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    src.run("UPDATE split_one SET modified = %s", params=(changed,))
    streams = Streams(monkeypatch)
    assert run_replication(_plan("split_one", "split_one"), src.url, dst.url).rows_updated == rows
    assert len(streams.take()) == parts


def test_a_window_above_max_rows_is_one_statement_and_its_keys_are_never_fetched(request, monkeypatch):
    src = get_backend(request, "mysql")
    dst = get_backend(request, "postgresql")
    table, dest = "split_big_src", "split_big_dst"
    _copied_then_changed(src, dst, table, dest)
    monkeypatch.setattr(split, "MAX_ROWS", 3_499)  # the window holds 3,500 rows
    streams = Streams(monkeypatch)
    key_reads: list[str] = []
    real = MySQLDialect.stream

    def stream(self: MySQLDialect, conn: Any, sql: str, *a: Any) -> Any:
        if sql.startswith("SELECT `id` FROM"):
            key_reads.append(sql)
        return real(self, conn, sql, *a)

    monkeypatch.setattr(MySQLDialect, "stream", stream)
    summary = run_replication(_plan(table, dest), src.url, dst.url)
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated) == (3_500, 500, 3_000)
    assert len(streams.take()) == 1 and key_reads == []
    assert _rows(dst, dest) == _rows(src, table)


def test_a_failing_range_fails_the_window_and_leaves_the_destination_as_it_was(request, monkeypatch):
    src = get_backend(request, "mysql")
    dst = get_backend(request, "postgresql")
    table, dest = "split_fail_src", "split_fail_dst"
    before = _copied_then_changed(src, dst, table, dest)
    streams = Streams(monkeypatch, fail_last_range=True)
    with pytest.raises(ReplicationError, match="connection was lost"):
        run_replication(_plan(table, dest), src.url, dst.url)
    assert len(streams.take()) == split.PARTS
    assert _rows(dst, dest) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("engine-read")]
    # the next run reads the same window again
    monkeypatch.undo()
    assert run_replication(_plan(table, dest), src.url, dst.url).rows_updated == 3_000
    assert _rows(dst, dest) == _rows(src, table)


def test_cancel_during_the_ranged_read_stops_every_range_and_keeps_the_old_contents(request, monkeypatch):
    src = get_backend(request, "mysql")
    dst = get_backend(request, "sqlite")
    table, dest = "split_cancel_src", "split_cancel_dst"
    before = _copied_then_changed(src, dst, table, dest)
    token, seen = CancelToken(), []
    real = read._ranged

    def ranged(opens: Any, check: Any) -> Iterator[bytes]:
        return cancel_at(real(opens, check), token, seen)

    monkeypatch.setattr(read, "_ranged", ranged)
    with pytest.raises(ReplicationCancelled):
        run_replication(_plan(table, dest), src.url, dst.url, cancel=token)
    assert len(seen) == 2
    assert _rows(dst, dest) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("engine-read")]

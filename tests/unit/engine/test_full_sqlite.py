"""Full mode SQLite → SQLite: table creation, atomic replace, counts."""

from __future__ import annotations

import sqlite3

import pytest

from airflow_sync.engine import hooks
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import TerminalReplicationError
from tests.unit.engine.conftest import make_plan


def _seed(src, n=100):
    src.run(
        'CREATE TABLE "src" (id INTEGER PRIMARY KEY, name VARCHAR(20), amount NUMERIC(10,2), '
        "ts DATETIME, flag BOOLEAN, note TEXT)"
    )
    src.many(
        'INSERT INTO "src" VALUES (?,?,?,?,?,?)',
        [(i, f"name {i}", f"{i}.25", f"2024-02-29 10:00:{i % 60:02d}", i % 2, None) for i in range(n)],
    )


def test_first_run_creates_table_with_types_and_key(src, dst):
    _seed(src)
    summary = run_replication(make_plan(), src.url, dst.url)
    assert summary.mode == "full" and summary.table_created
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated, summary.rows_deleted) == (
        100,
        100,
        0,
        0,
    )
    info = dst.rows('PRAGMA table_info("src")')
    assert [(r[1], r[2], r[5]) for r in info] == [
        ("id", "INTEGER", 1),
        ("name", "VARCHAR(20)", 0),
        ("amount", "NUMERIC(10,2)", 0),
        ("ts", "DATETIME", 0),
        ("flag", "BOOLEAN", 0),
        ("note", "TEXT", 0),
    ]
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')
    assert summary.to_dict()["records_affected"] == 100


def test_rerun_applies_inserts_updates_deletes(src, dst):
    _seed(src)
    run_replication(make_plan(), src.url, dst.url)
    src.run('DELETE FROM "src" WHERE id < 5')
    src.run("UPDATE \"src\" SET name = 'changed' WHERE id BETWEEN 10 AND 12")
    src.run("INSERT INTO \"src\" (id, name) VALUES (500, 'new')")
    summary = run_replication(make_plan(batch_size=7), src.url, dst.url)
    assert (summary.rows_inserted, summary.rows_updated, summary.rows_deleted) == (1, 3, 5)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')


def test_skip_deleted_keeps_vanished_rows(src, dst):
    _seed(src, 10)
    run_replication(make_plan(), src.url, dst.url)
    src.run('DELETE FROM "src" WHERE id = 3')
    summary = run_replication(make_plan(skip_deleted=True), src.url, dst.url)
    assert summary.rows_deleted == 0
    assert dst.rows('SELECT count(*) FROM "src"') == [(10,)]


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_batch_size_does_not_change_result(src, dst, batch_size):
    _seed(src, 20)
    summary = run_replication(make_plan(batch_size=batch_size), src.url, dst.url)
    assert summary.batches == -(-20 // batch_size)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')


def test_table_without_key_is_replaced(src, dst):
    src.run('CREATE TABLE "src" (a TEXT, b INTEGER)')
    src.many('INSERT INTO "src" VALUES (?, ?)', [("x", 1), ("y", 2)])
    run_replication(make_plan(), src.url, dst.url)
    src.run("DELETE FROM \"src\" WHERE a = 'x'")
    summary = run_replication(make_plan(), src.url, dst.url)
    assert (summary.rows_deleted, summary.rows_inserted) == (2, 1)
    assert dst.rows('SELECT * FROM "src"') == [("y", 2)]


def test_failure_mid_load_leaves_previous_contents(src, dst, monkeypatch):
    _seed(src, 50)
    run_replication(make_plan(), src.url, dst.url)
    before = dst.rows('SELECT * FROM "src" ORDER BY id')
    src.run("UPDATE \"src\" SET name = 'changed'")
    calls = []

    def boom(point):
        calls.append(point)
        if point == "batch" and len(calls) == 3:
            raise RuntimeError("injected")

    monkeypatch.setattr(hooks, "test_hook", boom)
    with pytest.raises(TerminalReplicationError, match="injected"):
        run_replication(make_plan(batch_size=10, truncate_table=True), src.url, dst.url)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == before


def test_truncate_table_reloads_inside_one_transaction(src, dst):
    _seed(src, 10)
    run_replication(make_plan(), src.url, dst.url)
    summary = run_replication(make_plan(truncate_table=True), src.url, dst.url)
    assert (summary.rows_deleted, summary.rows_inserted) == (10, 10)


def test_missing_source_table_is_terminal_and_named(src, dst):
    src.run("CREATE TABLE other (x INTEGER)")
    with pytest.raises(TerminalReplicationError, match="'nope' does not exist"):
        run_replication(make_plan("nope"), src.url, dst.url)


def test_destination_name_and_identifiers_with_spaces_quotes_and_keywords(src, dst):
    src.run('CREATE TABLE "select" ("order" INTEGER PRIMARY KEY, "a b.c" TEXT, "we""ird" TEXT)')
    src.run("INSERT INTO \"select\" VALUES (1, 'x', 'y')")
    run_replication(make_plan("select", 'dest "table".x'), src.url, dst.url)
    assert dst.rows('SELECT "order", "a b.c", "we""ird" FROM "dest ""table"".x"') == [(1, "x", "y")]


def test_readers_see_old_contents_until_commit(src, dst, monkeypatch):
    _seed(src, 30)
    run_replication(make_plan(), src.url, dst.url)
    src.run("UPDATE \"src\" SET name = 'new'")
    seen = []

    def peek(point):
        if point == "merged":
            c = sqlite3.connect(dst.path, timeout=0.1)
            seen.append(c.execute("SELECT count(*) FROM \"src\" WHERE name = 'new'").fetchone()[0])
            c.close()

    monkeypatch.setattr(hooks, "test_hook", peek)
    run_replication(make_plan(), src.url, dst.url)
    assert seen == [0]
    assert dst.rows("SELECT count(*) FROM \"src\" WHERE name = 'new'") == [(30,)]


def test_sqlite_to_sqlite_copies_inside_the_engine_and_never_writes_the_source(src, dst, monkeypatch):
    monkeypatch.setattr(hooks, "IN_ENGINE_COPY", True)
    _seed(src, 50)
    before = src.rows('SELECT * FROM "src" ORDER BY id')
    first = run_replication(make_plan(), src.url, dst.url)
    assert (first.batches, first.rows_inserted) == (1, 50)
    src.run("UPDATE \"src\" SET name = 'changed' WHERE id < 5")
    second = run_replication(make_plan(), src.url, dst.url)
    assert (second.rows_updated, second.rows_inserted, second.rows_deleted) == (5, 0, 0)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')
    assert src.rows('SELECT count(*) FROM "src"') == [(len(before),)]
    assert src.rows("SELECT name FROM sqlite_master WHERE name LIKE '%airflow_sync%'") == []


def test_a_table_is_never_replicated_onto_itself(src):
    _seed(src, 5)
    with pytest.raises(TerminalReplicationError, match="same table 'src'"):
        run_replication(make_plan(), src.url, src.url)
    assert src.rows('SELECT count(*) FROM "src"') == [(5,)]
    summary = run_replication(make_plan(destination="copy_of_src"), src.url, src.url)
    assert summary.rows_inserted == 5

"""AlterSchema, AutoTruncateStrings, error classification and messages without row values (SQLite)."""

from __future__ import annotations

import time
import traceback

import pytest

from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.errors import classify, redact
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import TerminalReplicationError, TransientReplicationError
from tests.unit.engine.conftest import make_plan


def test_alter_schema_adds_new_columns_and_never_drops(src, dst):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, a TEXT)')
    src.run("INSERT INTO \"src\" VALUES (1, 'x')")
    run_replication(make_plan(), src.url, dst.url)
    dst.run('ALTER TABLE "src" ADD COLUMN "dest_only" TEXT')
    src.run('ALTER TABLE "src" ADD COLUMN "b" INTEGER')
    src.run('UPDATE "src" SET b = 7')
    with pytest.raises(TerminalReplicationError, match=r"missing column\(s\) 'b'.*AlterSchema is off"):
        run_replication(make_plan(alter_schema=False), src.url, dst.url)
    summary = run_replication(make_plan(), src.url, dst.url)
    assert summary.columns_added == ["b"]
    assert dst.rows('SELECT id, a, dest_only, b FROM "src"') == [(1, "x", None, 7)]


def test_longer_strings_widen_with_alter_schema_else_truncate_or_fail(src, dst):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, s VARCHAR(5))')
    src.run("INSERT INTO \"src\" VALUES (1, 'short')")
    run_replication(make_plan(), src.url, dst.url)
    src.run('DROP TABLE "src"')
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, s VARCHAR(50))')
    src.many('INSERT INTO "src" VALUES (?, ?)', [(1, "secret-long-value"), (2, "ok")])
    with pytest.raises(TerminalReplicationError) as err:
        run_replication(make_plan(alter_schema=False), src.url, dst.url)
    assert "column 's'" in err.value.message and "batch 1" in err.value.message
    assert "secret" not in err.value.message
    summary = run_replication(make_plan(alter_schema=False, auto_truncate_strings=True), src.url, dst.url)
    assert summary.strings_truncated == 1
    assert dst.rows('SELECT s FROM "src" ORDER BY id') == [("secre",), ("ok",)]
    summary = run_replication(make_plan(), src.url, dst.url)
    assert summary.strings_truncated == 0
    assert dst.rows('SELECT s FROM "src" ORDER BY id') == [("secret-long-value",), ("ok",)]


def test_database_error_is_terminal_names_the_table_and_hides_values(src, dst):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT)')
    src.many('INSERT INTO "src" VALUES (?, ?)', [(1, "secret-a"), (2, "secret-a")])
    dst.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT UNIQUE)')
    with pytest.raises(TerminalReplicationError) as err:
        run_replication(make_plan(), src.url, dst.url)
    assert "'src'" in err.value.message and "UNIQUE" in err.value.message
    assert "secret" not in err.value.message


def test_locked_destination_is_transient(src, dst):
    import sqlite3

    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY)')
    src.run('INSERT INTO "src" VALUES (1)')
    run_replication(make_plan(), src.url, dst.url)
    holder = sqlite3.connect(dst.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        with pytest.raises(TransientReplicationError, match="locked"):
            run_replication(make_plan(command_timeout=1, truncate_table=True), src.url, dst.url)
        # CommandTimeout (1 s) bounds the very first wait too, not the driver's default of 30 s
        assert time.monotonic() - t0 < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_redact_keeps_identifiers_and_hides_values():
    msg = "Duplicate entry 'alice@example.com' for key 'email' in table \"users\"; Key (id)=(42) exists"
    out = redact(msg, ["email", "users"])
    assert "alice" not in out and "42" not in out
    assert "'email'" in out and '"users"' in out and "(id)=(?)" in out


def test_classify_non_database_errors_without_values():
    d = dialect_for("sqlite:///x.db")
    err = classify(ValueError("invalid literal for int(): 'secret'"), d, where="loading batch 2 into 't'")
    assert isinstance(err, TerminalReplicationError)
    assert "batch 2" in err.message and "secret" not in err.message


def test_a_value_no_converter_takes_is_named_by_its_column_and_batch_not_its_value():
    """The batch's columns are converted lazily (one map each): the error still names the column that
    failed — here the second of two converted ones, in the second batch — and never the value."""
    from airflow_sync.engine.convert import RowConverter
    from airflow_sync.engine.types import ColType, Column

    cols = [Column("id", ColType("int64")), Column("d", ColType("date"), native="DATE")]
    cols.append(Column("e", ColType("date"), native="DATE"))
    conv = RowConverter(
        dialect_for("sqlite:///x.db"),
        dialect_for("postgresql+psycopg://u@h/db"),
        cols,
        cols,
        table="days",
        use_gmt=True,
        auto_truncate=False,
    )
    assert [i for i, _ in conv.active] == [1, 2], "both date columns are converted"
    assert len(conv.convert([(1, "2024-01-02", "2024-01-03")])) == 1
    bad = "-".join(["secret", "4111"])  # not spelt out: the traceback prints the lines of its frames
    with pytest.raises(TerminalReplicationError) as err:
        conv.convert([(2, "2024-01-02", "2024-01-03"), (3, "2024-01-04", bad)])
    assert err.value.message.startswith(
        "Column 'e' of table 'days' holds a value that cannot be written as date"
    )
    assert "batch 2" in err.value.message and "secret" not in err.value.message
    assert "secret" not in "".join(traceback.format_exception(err.value))

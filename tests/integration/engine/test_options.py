"""Job options against real servers: AlterSchema widening, DropTable, CommandTimeout, error classes."""

from __future__ import annotations

import time
import traceback

import pytest

from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import TerminalReplicationError, TransientReplicationError
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend


def _plan(src: str, dst: str, **kw) -> ReplicationPlan:
    return ReplicationPlan(job_name="opt", query_id=dst, source=TableRef((src,)), destination=dst, **kw)


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_alter_schema_widens_types(request, dst_name):
    src = get_backend(request, "postgresql")
    dst = get_backend(request, dst_name)
    s, t = "widen_src", f"widen_{dst_name}"
    src.run(
        f"DROP TABLE IF EXISTS {s}", f"CREATE TABLE {s} (id integer PRIMARY KEY, n integer, v varchar(5))"
    )
    src.run(f"INSERT INTO {s} VALUES (1, 1, 'abc')")
    dst.run(f"DROP TABLE IF EXISTS {t}")
    run_replication(_plan(s, t), src.url, dst.url)
    src.run(f"ALTER TABLE {s} ALTER COLUMN n TYPE bigint, ALTER COLUMN v TYPE varchar(30)")
    src.run(f"INSERT INTO {s} VALUES (2, 9000000000, 'a much longer value')")
    with pytest.raises(TerminalReplicationError, match=f"'{t}'"):
        run_replication(_plan(s, t, alter_schema=False), src.url, dst.url)
    run_replication(_plan(s, t), src.url, dst.url)
    d = dialect_for(dst.url)
    conn = d.connect()
    try:
        schema = d.reflect(conn, None, t)
    finally:
        conn.close()
    assert str(schema.column("n").type) == "int64" and str(schema.column("v").type) == "string(30)"
    assert dst.rows(f"SELECT id, n, v FROM {t} ORDER BY id") == [
        (1, 1, "abc"),
        (2, 9000000000, "a much longer value"),
    ]


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_drop_table_rebuilds_atomically(request, dst_name):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    s, t = "drop_src", f"drop_{dst_name}"
    src.run(f"DROP TABLE IF EXISTS {s}", f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v TEXT)")
    src.many(f"INSERT INTO {s} VALUES (?, ?)", [(i, "x") for i in range(10)])
    dst.run(f"DROP TABLE IF EXISTS {t}", f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, old_col VARCHAR(10))")
    dst.run(f"INSERT INTO {t} VALUES (99, 'old')")
    summary = run_replication(_plan(s, t, drop_table=True), src.url, dst.url)
    assert summary.table_created and summary.rows_inserted == 10
    assert dst.rows(f"SELECT count(*) FROM {t}") == [(10,)]
    d = dialect_for(dst.url)
    conn = d.connect()
    try:
        assert [c.name for c in d.reflect(conn, None, t).columns] == ["id", "v"]
        assert d.reflect(conn, None, f"{t}__as_new") is None and d.reflect(conn, None, f"{t}__as_old") is None
    finally:
        conn.close()


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_command_timeout_stops_a_blocked_statement(request, dst_name):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    s, t = "timeout_src", f"timeout_{dst_name}"
    src.run(f"DROP TABLE IF EXISTS {s}", f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v TEXT)")
    src.run(f"INSERT INTO {s} VALUES (1, 'x')")
    dst.run(f"DROP TABLE IF EXISTS {t}")
    run_replication(_plan(s, t), src.url, dst.url)
    holder = dst.connect()
    cur = holder.cursor()
    cur.execute(
        f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE"
        if dst_name == "postgresql"
        else f"SELECT * FROM {t} FOR UPDATE"
    )
    try:
        started = time.monotonic()
        with pytest.raises(TerminalReplicationError, match="CommandTimeout of 1 s"):
            run_replication(_plan(s, t, command_timeout=1, truncate_table=True), src.url, dst.url)
        assert time.monotonic() - started < 10
    finally:
        holder.rollback()
        holder.close()


def test_unreachable_server_is_transient(request):
    src = get_backend(request, "sqlite")
    with pytest.raises(TransientReplicationError):
        run_replication(_plan("x", "x"), src.url, "postgresql+psycopg://postgres@127.0.0.1:1/nope")


def _printed(exc: BaseException) -> str:
    """``exc`` as a task's log prints it: the traceback with its chain of causes."""
    return "".join(traceback.format_exception(exc))


def test_constraint_violation_is_terminal_without_values(request):
    src = get_backend(request, "mysql")
    dst = get_backend(request, "postgresql")
    src.run("DROP TABLE IF EXISTS uq_src", "CREATE TABLE uq_src (id INT PRIMARY KEY, email VARCHAR(50))")
    src.many("INSERT INTO uq_src VALUES (%s, %s)", [(1, "alice@secret"), (2, "alice@secret")])
    dst.run(
        "DROP TABLE IF EXISTS uq_dst",
        "CREATE TABLE uq_dst (id integer PRIMARY KEY, email varchar(50) UNIQUE)",
    )
    with pytest.raises(TerminalReplicationError) as err:
        run_replication(_plan("uq_src", "uq_dst"), src.url, dst.url)
    assert "uq_dst" in err.value.message and "secret" not in err.value.message
    # nor in its cause, which a task's log prints with the traceback (PostgreSQL's detail names the value)
    printed = _printed(err.value)
    assert "secret" not in printed and "UniqueViolation" in printed


@pytest.mark.parametrize("dst_name", ["postgresql", "mysql"])
def test_a_value_no_converter_takes_is_in_neither_the_error_nor_its_traceback(request, dst_name):
    """A SQLite DATE column holding text: the error names the column (not the value); the converter's
    ValueError quotes the value, and the cause chained to the run's error keeps its stack, not the value."""
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    src.run("DROP TABLE IF EXISTS bad_day", "CREATE TABLE bad_day (id INTEGER PRIMARY KEY, d DATE)")
    src.run("INSERT INTO bad_day VALUES (1, 'secret-4111-1111')")
    dst.run(f"DROP TABLE IF EXISTS {dst.q('bad_day')}")
    with pytest.raises(TerminalReplicationError) as err:
        run_replication(_plan("bad_day", "bad_day"), src.url, dst.url)
    # the message names the column, its types and the batch, and says what to do
    assert err.value.message == (
        "Column 'd' of table 'bad_day' holds a value that cannot be written as date (source type DATE, a str "
        "value: ValueError) in batch 1; correct the value in the source, or convert or leave out the column "
        "in the query"
    )
    printed = _printed(err.value)
    assert "secret" not in printed and "4111" not in printed
    assert "RedactedError: builtins.ValueError" in printed and "to_date" in printed, printed

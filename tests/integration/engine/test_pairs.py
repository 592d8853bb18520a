"""Full mode across the 9 {SQLite, PostgreSQL, MariaDB} pairs: exact values, idempotent re-runs, atomicity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import TerminalReplicationError
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend

BACKENDS = ["sqlite", "postgresql", "mysql"]
PAIRS = [(s, d) for s in BACKENDS for d in BACKENDS]

# column -> (comparison kind, DDL per source backend)
COLUMNS = {
    "id": (
        "int",
        {"sqlite": "INTEGER PRIMARY KEY", "postgresql": "integer PRIMARY KEY", "mysql": "INT PRIMARY KEY"},
    ),
    "i16": ("int", {"sqlite": "SMALLINT", "postgresql": "smallint", "mysql": "SMALLINT"}),
    "i32": ("int", {"sqlite": "INTEGER", "postgresql": "integer", "mysql": "INT"}),
    "i64": ("int", {"sqlite": "BIGINT", "postgresql": "bigint", "mysql": "BIGINT"}),
    "money": (
        "decimal",
        {"sqlite": "NUMERIC(10,2)", "postgresql": "numeric(10,2)", "mysql": "DECIMAL(10,2)"},
    ),
    "big": (
        "decimal",
        {"sqlite": "DECIMAL_TEXT(30,10)", "postgresql": "numeric(30,10)", "mysql": "DECIMAL(30,10)"},
    ),
    "f64": ("float", {"sqlite": "DOUBLE", "postgresql": "double precision", "mysql": "DOUBLE"}),
    "f32": ("float", {"sqlite": "REAL", "postgresql": "real", "mysql": "FLOAT"}),
    "flag": ("bool", {"sqlite": "BOOLEAN", "postgresql": "boolean", "mysql": "BOOLEAN"}),
    "name": ("str", {"sqlite": "VARCHAR(40)", "postgresql": "varchar(40)", "mysql": "VARCHAR(40)"}),
    "body": ("str", {"sqlite": "TEXT", "postgresql": "text", "mysql": "LONGTEXT"}),
    "d": ("date", {"sqlite": "DATE", "postgresql": "date", "mysql": "DATE"}),
    "ts": ("ts", {"sqlite": "DATETIME", "postgresql": "timestamp", "mysql": "DATETIME(6)"}),
    "tstz": ("tstz", {"sqlite": "TIMESTAMPTZ", "postgresql": "timestamptz", "mysql": "DATETIME(6)"}),
    "bin": ("bytes", {"sqlite": "BLOB", "postgresql": "bytea", "mysql": "LONGBLOB"}),
    "doc": ("json", {"sqlite": "JSON", "postgresql": "jsonb", "mysql": "JSON"}),
}
UNICODE = "Zoë 😀 𝄞 Ünïcödé"
ROWS = [
    (1, 32767, 2147483647, 9223372036854775807, Decimal("12345678.90"),
     Decimal("12345678901234567890.0123456789"), 1.7976931348623157e308, 0.5, True, UNICODE,
     "multi\nline 'q' \"dq\" \\ back % pct", date(2024, 2, 29),
     datetime(2024, 3, 10, 2, 30, 0), datetime(2024, 10, 27, 0, 30, tzinfo=UTC), b"\x00\xff\x10",
     '{"a": [1, 2], "b": "ü"}'),
    (2, -32768, -2147483648, -9223372036854775808, Decimal("-0.01"), Decimal("-0.0000000001"), -0.1, -1.25,
     False, "", "", date(1900, 1, 1), datetime(1999, 12, 31, 23, 59, 59, 999999),
     datetime(2024, 10, 27, 1, 30, tzinfo=UTC), b"", "[]"),
    (3, *([None] * 15)),
]  # fmt: skip


def _source_value(backend: str, kind: str, v):
    if v is None:
        return None
    if backend == "sqlite":
        if kind == "decimal":
            return str(v)
        if kind in ("ts", "tstz", "date"):
            return v.isoformat(" ") if kind != "date" else v.isoformat()
    if backend == "mysql" and kind == "tstz":
        return v.replace(tzinfo=None)
    return v


@pytest.fixture(scope="module")
def sources(request):
    """The edge table, created once in each source backend."""
    made = {}

    def get(name):
        if name not in made:
            b = get_backend(request, name)
            cols = ", ".join(f"{b.q(c)} {ddl[name]}" for c, (_, ddl) in COLUMNS.items())
            b.run(f"DROP TABLE IF EXISTS {b.q('edge')}", f"CREATE TABLE {b.q('edge')} ({cols})")
            kinds = [k for k, _ in COLUMNS.values()]
            rows = [tuple(_source_value(name, k, v) for k, v in zip(kinds, r, strict=True)) for r in ROWS]
            b.many(f"INSERT INTO {b.q('edge')} VALUES ({', '.join([b.mark] * len(COLUMNS))})", rows)
            made[name] = b
        return made[name]

    return get


def _plan(dest: str, **kw) -> ReplicationPlan:
    # UseGmtDateTime keeps the comparison independent of the machine's time zone
    kw.setdefault("use_gmt", True)
    return ReplicationPlan(
        job_name="pairs", query_id=dest, source=TableRef(("edge",)), destination=dest, **kw
    )


@pytest.mark.parametrize(("src_name", "dst_name"), PAIRS)
def test_round_trip_keeps_values_exact(request, sources, src_name, dst_name):
    _round_trip(request, sources, src_name, dst_name)


@pytest.mark.parametrize("fast", [True, False], ids=["connector-cext", "pymysql"])
def test_mysql_reads_are_exact_with_and_without_the_c_extension(request, sources, monkeypatch, fast):
    from airflow_sync.engine.dialects import mysql, mysql_read

    if fast and not mysql_read.available():
        pytest.skip("mysql-connector-python's C extension is not installed")
    monkeypatch.setattr(mysql, "FAST_READS", fast)
    _round_trip(request, sources, "mysql", "sqlite")


@pytest.mark.parametrize("in_engine", [True, False], ids=["insert-select", "row-path"])
def test_mysql_to_mysql_same_server_copy_and_row_path_are_exact(request, sources, monkeypatch, in_engine):
    """Source and destination on one server copy with INSERT ... SELECT; the row path stays exact too."""
    from airflow_sync.engine import hooks
    from airflow_sync.engine.dialects.mysql import MySQLDialect

    copies: list[int] = []
    real = MySQLDialect.copy_query

    def counting(self, *args, **kwargs):
        n = real(self, *args, **kwargs)
        copies.append(n)
        return n

    monkeypatch.setattr(hooks, "IN_ENGINE_COPY", in_engine)
    monkeypatch.setattr(MySQLDialect, "copy_query", counting)
    _round_trip(request, sources, "mysql", "mysql")
    assert (copies[:1] == [3]) is in_engine


def _round_trip(request, sources, src_name, dst_name):
    src = sources(src_name)
    dst = get_backend(request, dst_name)
    table = f"edge from {src_name}"
    dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
    summary = run_replication(_plan(table), src.url, dst.url)
    assert (summary.rows_read, summary.rows_inserted, summary.table_created) == (3, 3, True)

    got = dst.rows(
        f"SELECT {', '.join(dst.q(c) for c in COLUMNS)} FROM {dst.q(table)} ORDER BY {dst.q('id')}"
    )
    kinds = [k for k, _ in COLUMNS.values()]
    expected = [[None if v is None else _expect(k, v) for k, v in zip(kinds, r, strict=True)] for r in ROWS]
    from tests.integration.engine.backends import norm

    actual = [[norm(v, k) for k, v in zip(kinds, r, strict=True)] for r in got]
    for exp_row, act_row in zip(expected, actual, strict=True):
        for col, e, a in zip(COLUMNS, exp_row, act_row, strict=True):
            assert a == e, f"{src_name}->{dst_name} column {col}: {a!r} != {e!r}"

    again = run_replication(_plan(table), src.url, dst.url)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0), (
        "re-run must be a no-op"
    )


def _expect(kind, v):
    from tests.integration.engine.backends import norm

    return norm(v, kind)


@pytest.mark.parametrize(
    ("src_name", "dst_name"), [("postgresql", "mysql"), ("mysql", "postgresql"), ("sqlite", "postgresql")]
)
def test_changes_are_merged_and_a_failed_run_leaves_old_contents(request, src_name, dst_name):
    src = get_backend(request, src_name)
    dst = get_backend(request, dst_name)
    s, t = "merge src", "merge dst"
    src.run(
        f"DROP TABLE IF EXISTS {src.q(s)}", f"CREATE TABLE {src.q(s)} (id INTEGER PRIMARY KEY, v VARCHAR(50))"
    )
    # an existing, narrower destination: values are checked one by one
    dst.run(
        f"DROP TABLE IF EXISTS {dst.q(t)}", f"CREATE TABLE {dst.q(t)} (id INTEGER PRIMARY KEY, v VARCHAR(5))"
    )
    src.many(f"INSERT INTO {src.q(s)} VALUES ({src.mark}, {src.mark})", [(i, f"v{i}") for i in range(100)])
    plan = ReplicationPlan(
        job_name="m", query_id="q", source=TableRef((s,)), destination=t, batch_size=17, alter_schema=False
    )
    run_replication(plan, src.url, dst.url)
    src.run(f"DELETE FROM {src.q(s)} WHERE id < 10", f"UPDATE {src.q(s)} SET v = 'new' WHERE id >= 90")
    src.run(f"INSERT INTO {src.q(s)} VALUES (1000, 'added')")
    summary = run_replication(plan, src.url, dst.url)
    assert (summary.rows_inserted, summary.rows_updated, summary.rows_deleted) == (1, 10, 10)
    select = "SELECT id, v FROM {} ORDER BY id"
    assert dst.rows(select.format(dst.q(t))) == src.rows(select.format(src.q(s)))

    # a value too long for the destination fails the run naming the column and batch; nothing changes
    before = dst.rows(select.format(dst.q(t)))
    src.run(
        f"UPDATE {src.q(s)} SET v = 'much too long' WHERE id = 50",
        f"INSERT INTO {src.q(s)} VALUES (2000, 'y')",
    )
    with pytest.raises(TerminalReplicationError, match=r"column 'v' of table 'merge dst'.*in batch \d+"):
        run_replication(plan, src.url, dst.url)
    assert dst.rows(select.format(dst.q(t))) == before

    summary = run_replication(replace(plan, auto_truncate_strings=True), src.url, dst.url)
    assert (summary.strings_truncated, summary.rows_inserted, summary.rows_updated) == (1, 1, 1)
    assert dst.rows(f"SELECT v FROM {dst.q(t)} WHERE id = 50") == [("much ",)]

"""Into SQLite without a Python object per value: from PostgreSQL the server renders each value in the form
SQLite's row path stores (``route.rendered_rows``), from MariaDB the text pipe's lines are bound as text
(``dialects/sqlite_text.py``). Either way SQLite must hold exactly what the row path stores: same values,
same storage classes, same text for timestamps."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from airflow_sync.engine import hooks, route, write
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend
from tests.integration.engine.test_textpipe import TRICKY

# column -> (PostgreSQL DDL, MariaDB DDL)
COLUMNS = {
    "id": ("integer PRIMARY KEY", "INT PRIMARY KEY"),
    "i16": ("smallint", "SMALLINT"),
    "i64": ("bigint", "BIGINT"),
    "wide": ("numeric(38,10)", "DECIMAL(38,10)"),
    "money": ("numeric(12,2)", "DECIMAL(12,2)"),
    "f64": ("double precision", "DOUBLE"),
    "flag": ("boolean", "BOOLEAN"),
    "name": ("varchar(40)", "VARCHAR(40)"),
    "body": ("text", "LONGTEXT"),
    "d": ("date", "DATE"),
    "ts": ("timestamp", "DATETIME(6)"),
    "doc": ("jsonb", "JSON"),
    "u": ("uuid", "UUID"),
}
NAMES = list(COLUMNS)
ROWS = [
    (1, 32767, 9223372036854775807, Decimal("1234567890123456789012345678.0123456789"), Decimal("-0.01"),
     1 / 3, True, "a\tb\nc\rd\\e\\Nf'g\"h😀𝄞\x0c\x0b", TRICKY, date(2024, 2, 29),
     datetime(2024, 2, 29, 23, 59, 59, 999999), '{"a": [1, 2.5, null], "s": "tab\\t ü"}',
     "123e4567-e89b-12d3-a456-426614174000"),
    (2, -32768, -9223372036854775808, Decimal("-0.0000000001"), Decimal("9999999999.99"),
     1.7976931348623157e308, False, "", "", date(1000, 1, 1), datetime(1970, 1, 1, 0, 0, 0, 1), "[]",
     "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    (3, 0, 0, Decimal("0"), Decimal("0"), 5e-324, False, "\\N", "\\", date(9999, 12, 31),
     datetime(2021, 1, 1), '"text"', "00000000-0000-0000-0000-000000000000"),
    (4, 1, 1, Decimal("0.1"), Decimal("12.5"), 2.0, True, "NULL", "\\.", date(2024, 10, 27),
     datetime(2024, 10, 27, 2, 30, 0, 500000), "{}", "00000000-0000-0000-0000-000000000001"),
    (5, *([None] * 12)),
]  # fmt: skip


def _source(request, name: str, table: str, rows=ROWS):
    b = get_backend(request, name)
    col = 0 if name == "postgresql" else 1
    cols = ", ".join(f"{b.q(c)} {spec[col]}" for c, spec in COLUMNS.items())
    b.run(f"DROP TABLE IF EXISTS {b.q(table)}", f"CREATE TABLE {b.q(table)} ({cols})")
    b.many(f"INSERT INTO {b.q(table)} VALUES ({', '.join([b.mark] * len(COLUMNS))})", rows)
    return b


def _plan(source: str, dest: str, **kw) -> ReplicationPlan:
    kw.setdefault("use_gmt", True)
    return ReplicationPlan(job_name="sq", query_id=dest, source=TableRef((source,)), destination=dest, **kw)


def _stored(dst, table: str) -> list[tuple]:
    """Every value as SQLite stores it: its storage class and its value."""
    items = ", ".join(f"typeof({dst.q(c)}), {dst.q(c)}" for c in NAMES)
    return dst.rows(f"SELECT {items} FROM {dst.q(table)} ORDER BY {dst.q('id')}")


@pytest.fixture
def row_path_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = write._load_rows

    def spy(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(write, "_load_rows", spy)
    return calls


@pytest.mark.parametrize("src_name", ["postgresql", "mysql"])
def test_values_stored_exactly_as_the_row_path_stores_them(request, monkeypatch, row_path_calls, src_name):
    _source(request, src_name, "sq edge")
    dst = get_backend(request, "sqlite")
    for table in ("sq fast", "sq rows"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")

    summary = run_replication(_plan("sq edge", "sq fast"), _source_url(request, src_name), dst.url)
    assert row_path_calls == [], "the fast path must carry the load"
    assert (summary.rows_read, summary.rows_inserted) == (len(ROWS), len(ROWS))

    monkeypatch.setattr(hooks, "TEXT_PIPE", False)
    monkeypatch.setattr(hooks, "ROW_RENDER", False)
    run_replication(_plan("sq edge", "sq rows"), _source_url(request, src_name), dst.url)
    assert row_path_calls == [1]

    fast, rows = _stored(dst, "sq fast"), _stored(dst, "sq rows")
    for f, r in zip(fast, rows, strict=True):
        for i, col in enumerate(NAMES):
            assert f[2 * i : 2 * i + 2] == r[2 * i : 2 * i + 2], f"{col}: fast {f[2 * i : 2 * i + 2]!r}"
    assert repr(fast) == repr(rows)  # -0.0 and 0.0 compare equal above

    monkeypatch.setattr(hooks, "TEXT_PIPE", True)
    monkeypatch.setattr(hooks, "ROW_RENDER", True)
    again = run_replication(_plan("sq edge", "sq fast"), _source_url(request, src_name), dst.url)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0), "staged re-run"
    assert row_path_calls == [1], "the stage is loaded by the fast path too"


def _source_url(request, name: str) -> str:
    return get_backend(request, name).url


def test_postgres_floats_beyond_text_and_aware_timestamps(request, row_path_calls):
    """Infinity and NaN reach SQLite as the row path binds them; an aware timestamp (stored with its
    "+00:00" by the row path) sends the query down the row path."""
    src = get_backend(request, "postgresql")
    src.run(
        'DROP TABLE IF EXISTS "sq float"',
        'CREATE TABLE "sq float" (id int PRIMARY KEY, f double precision)',
        "INSERT INTO \"sq float\" VALUES (1, 'Infinity'), (2, '-Infinity'), (3, 'NaN'), (4, -0.0)",
    )
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sq float"')
    run_replication(_plan("sq float", "sq float"), src.url, dst.url)
    assert row_path_calls == []
    got = dst.rows('SELECT id, typeof(f), f FROM "sq float" ORDER BY id')
    assert got == [(1, "real", float("inf")), (2, "real", float("-inf")), (3, "null", None), (4, "real", 0.0)]

    src.run(
        'DROP TABLE IF EXISTS "sq tz"',
        'CREATE TABLE "sq tz" (id int PRIMARY KEY, t timestamptz)',
        "INSERT INTO \"sq tz\" VALUES (1, '2024-01-01 10:00:00+02')",
    )
    dst.run('DROP TABLE IF EXISTS "sq tz"')
    run_replication(_plan("sq tz", "sq tz"), src.url, dst.url)
    assert row_path_calls == [1]
    assert dst.rows('SELECT t FROM "sq tz"') == [("2024-01-01 08:00:00+00:00",)]


@pytest.mark.parametrize("src_name", ["postgresql", "mysql"])
def test_commit_guard_stops_the_fast_path_before_commit(request, row_path_calls, src_name):
    _source(request, src_name, "sq guard")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sq guard"')
    token = CancelToken()
    asked: list[int] = []
    token.add_commit_guard(lambda: asked.append(1) or True)
    with pytest.raises(ReplicationCancelled):
        run_replication(_plan("sq guard", "sq guard"), _source_url(request, src_name), dst.url, cancel=token)
    assert asked == [1] and row_path_calls == []
    assert dst.rows('SELECT COUNT(*) FROM "sq guard"') == [(0,)]


@pytest.mark.parametrize("ingest", [False, True], ids=["rendered", "arrow-ingest"])
def test_a_server_date_style_other_than_iso_stores_the_same_dates(
    request, monkeypatch, row_path_calls, ingest
):
    """The source renders dates as text for SQLite: its DateStyle (here German, from the connection URL's
    options, as a server or role default would set it) must not reach the stored value."""
    src = _source(request, "postgresql", "sq style")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sq style"')
    monkeypatch.setattr(route, "INGEST_MIN_ROWS", 1 if ingest else 10**9)
    url = src.url + ("&" if "?" in src.url else "?") + "options=-c%20DateStyle%3DGerman"
    run_replication(_plan("sq style", "sq style"), url, dst.url)
    assert row_path_calls == []
    assert dst.rows('SELECT id, d FROM "sq style" ORDER BY id') == [
        (1, "2024-02-29"), (2, "1000-01-01"), (3, "9999-12-31"), (4, "2024-10-27"), (5, None)
    ]  # fmt: skip

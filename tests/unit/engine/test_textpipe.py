"""Text pipe pieces that need no server: eligibility per column, PostgreSQL escapes MySQL cannot read,
upload packets."""

from __future__ import annotations

import pytest

from airflow_sync.engine.dialects import mysql_infile
from airflow_sync.engine.dialects.postgres import _portable
from airflow_sync.engine.route import fits as _fits
from airflow_sync.engine.types import ColType


@pytest.mark.parametrize(
    ("src", "dst", "zone", "ok"),
    [
        (ColType("int32"), ColType("int64"), None, True),
        (ColType("int64"), ColType("int32"), None, False),
        (ColType("decimal", precision=12, scale=2), ColType("decimal", precision=12, scale=2), None, True),
        (ColType("decimal", precision=12, scale=2), ColType("decimal", precision=12, scale=1), None, False),
        (ColType("decimal", precision=12, scale=2), ColType("decimal", precision=11, scale=2), None, False),
        (ColType("decimal"), ColType("decimal", precision=65, scale=30), None, False),
        (ColType("decimal", precision=20, scale=0), ColType("decimal"), None, True),
        (ColType("string", length=40), ColType("string", length=40), None, True),
        (ColType("string", length=41), ColType("string", length=40), None, False),
        (ColType("text"), ColType("string", length=40), None, False),
        (ColType("string", length=40), ColType("text"), None, True),
        (ColType("timestamp", tz=True), ColType("timestamp"), None, False),
        (ColType("timestamp", tz=True), ColType("timestamp"), "UTC", True),
        (ColType("timestamp"), ColType("timestamp", tz=True), "UTC", False),
        (ColType("float32"), ColType("float32"), None, False),
        (ColType("float64"), ColType("float64"), None, True),
        (ColType("binary"), ColType("binary"), None, False),
        (ColType("uuid"), ColType("string", length=36), None, False),
        (ColType("bool"), ColType("int16"), None, False),
    ],
)
def test_only_columns_whose_text_form_is_stored_unchanged_take_the_pipe(src, dst, zone, ok):
    assert _fits(src, dst, zone) is ok


def test_postgres_only_escapes_become_raw_bytes_and_escaped_backslashes_stay():
    block = b"a\\\\f\t\\f|\\v|\\t|\\\\v|\\\\\\f|\\N\n"
    assert _portable(block) == b"a\\\\f\t\x0c|\x0b|\\t|\\\\v|\\\\\x0c|\\N\n"
    plain = b"no escapes\\t here\n"
    assert _portable(plain) is plain


def test_upload_packets_regroup_blocks_without_losing_bytes(monkeypatch):
    monkeypatch.setattr(mysql_infile, "PACKET", 4)
    blocks = [b"ab", b"cdefghij", b"", b"k"]
    got = list(mysql_infile.packets(blocks))
    assert got == [b"abcd", b"efgh", b"ijk"]


def test_sqlite_binds_text_lines_with_nulls_and_escapes(tmp_path):
    """The NULL marker becomes NULL, an escaped backslash-N stays text, every escape is undone, and
    numeric text lands as a number in a numeric-affinity column (as the row path's bound number)."""
    import sqlite3

    from airflow_sync.engine.dialects.sqlite_text import load_lines

    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (n INTEGER, x DOUBLE, s TEXT)")
    plain = b"1\t0.5\tabc\n\\N\t\\N\t\\N\n3\t1e999\t\n"
    escaped = b"4\t2\t\\\\N\n5\t2.5\ta\\tb\\nc\\rd\\be\\ff\\vg\\\\h\n"
    assert load_lines(conn, "t", "n, x, s", 3, [plain, escaped]) == 5
    got = conn.execute("SELECT typeof(n), n, typeof(x), x, s FROM t ORDER BY rowid").fetchall()
    assert got == [
        ("integer", 1, "real", 0.5, "abc"),
        ("null", None, "null", None, None),
        ("integer", 3, "real", float("inf"), ""),
        ("integer", 4, "real", 2.0, "\\N"),
        ("integer", 5, "real", 2.5, "a\tb\nc\rd\be\ff\vg\\h"),
    ]


def test_sqlite_affinity_decides_where_text_may_stand_for_a_number():
    from airflow_sync.engine.route import sqlite_affinity, sqlite_takes_text
    from airflow_sync.engine.types import ColType, Column

    assert [sqlite_affinity(t) for t in ("BIGINT", "VARCHAR(9)", "BLOB", "", "DOUBLE", "NUMERIC(9,2)")] == [
        "INTEGER", "TEXT", "BLOB", "BLOB", "REAL", "NUMERIC",
    ]  # fmt: skip
    assert sqlite_takes_text(Column("a", ColType("int64"), native="INTEGER"))
    assert not sqlite_takes_text(Column("a", ColType("int64"), native="TEXT"))  # would stay text
    assert not sqlite_takes_text(Column("a", ColType("text"), native=""))
    assert sqlite_takes_text(Column("a", ColType("timestamp"), native="DATETIME"))


def test_mysql_literals_rendered_column_wise_are_the_per_value_literals():
    """render_column (one C-level map per column) gives exactly literal_for's text for every value."""
    from datetime import date, datetime, time
    from decimal import Decimal

    from airflow_sync.engine.dialects.mysql_literals import literal_for, render_column

    columns = {
        "int64": [1, None, -9223372036854775808, 0],
        "float64": [0.1, None, 1e-05, -0.0, 1.7976931348623157e308],
        "string": ["a", None, "Zoë 😀", ""],
        "text": ["it's", "back\\slash", None, "nl\nand\r\x00\x1a"],
        "decimal": [Decimal("1.50"), None, Decimal("-0.0000000001"), Decimal("1E+5")],
        "timestamp": [datetime(2024, 1, 1), None, datetime(2024, 1, 1, 0, 0, 0, 5)],
        "date": [date(2024, 2, 29), None],
        "bool": [True, False, None],
        "time": [time(1, 2, 3), None],
        "json": [None, None],
        "mixed": [1, "1", 1.5, None, Decimal("2"), b"\x00x"],
    }
    for kind, col in columns.items():
        assert list(render_column(kind, tuple(col))) == [literal_for(kind)(v) for v in col], kind

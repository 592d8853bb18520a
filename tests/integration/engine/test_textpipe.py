"""The text pipe between MariaDB and PostgreSQL: exact values (equal to the row path's), failures that name
the column and leave the destination as it was, the local-file request locked to our own load,
cancellation mid-pipe, and the fallbacks."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pymysql
import pytest
from sqlalchemy.engine import make_url

from airflow_sync.engine import hooks, route
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects.base import Dialect
from airflow_sync.engine.dialects.mysql import MySQLDialect
from airflow_sync.engine.dialects.postgres import PostgresDialect
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled, TerminalReplicationError
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend

BERLIN = ZoneInfo("Europe/Berlin")
# column -> (kind, PostgreSQL DDL, MariaDB DDL)
COLUMNS = {
    "id": ("int", "integer PRIMARY KEY", "INT PRIMARY KEY"),
    "i16": ("int", "smallint", "SMALLINT"),
    "i32": ("int", "integer", "INT"),
    "i64": ("int", "bigint", "BIGINT"),
    "amount": ("decimal", "numeric(38,10)", "DECIMAL(38,10)"),
    "f64": ("float", "double precision", "DOUBLE"),
    "flag": ("bool", "boolean", "BOOLEAN"),
    "name": ("str", "varchar(40)", "VARCHAR(40)"),
    "body": ("str", "text", "LONGTEXT"),
    "d": ("date", "date", "DATE"),
    "ts": ("ts", "timestamp", "DATETIME(6)"),
    "tstz": ("ts", "timestamptz", "DATETIME(6)"),
    "doc": ("json", "jsonb", "JSON"),
    "u": ("uuid", "uuid", "UUID"),
}
TRICKY = (
    "tab\there nl\nhere cr\rhere \\ back \\N \\\\N \\. 'q' \"dq\" Zoë 😀 𝄞 "
    "\x0cff\x0bvt\x08bs \\f \\\\f \\t end"
)
ROWS = [
    (1, 32767, 2147483647, 9223372036854775807, Decimal("1234567890123456789012345678.0123456789"), 1 / 3,
     True, "a\tb\nc\rd\\e\\Nf'g\"h😀𝄞\x0c\x0b", TRICKY, date(2024, 2, 29),
     datetime(2024, 2, 29, 23, 59, 59, 999999), datetime(2024, 3, 31, 1, 59, 59, 999999, tzinfo=BERLIN),
     '{"a": [1, 2.5, null], "s": "tab\\t nl\\n bs\\\\ ü 😀", "n": {"x": true}}',
     "123e4567-e89b-12d3-a456-426614174000"),
    (2, -32768, -2147483648, -9223372036854775808, Decimal("-0.0000000001"), 1.7976931348623157e308, False,
     "", "", date(1000, 1, 1), datetime(1970, 1, 1, 0, 0, 0, 1), datetime(2024, 3, 31, 3, 0, tzinfo=BERLIN),
     "[]", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    (3, 0, 0, 0, Decimal("0"), 5e-324, False, "\\N", "\\", date(9999, 12, 31),
     datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN),
     '"text"', "00000000-0000-0000-0000-000000000000"),
    (4, 1, -1, 1, Decimal("0.1"), -0.0, True, "NULL", "\\.", date(2024, 10, 27),
     datetime(2024, 10, 27, 2, 30), datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN), "{}",
     "00000000-0000-0000-0000-000000000001"),
    (5, *([None] * 13)),
]  # fmt: skip
KINDS = [k for k, _, _ in COLUMNS.values()]
NAMES = list(COLUMNS)


def _norm(v, kind):
    if v is None:
        return None
    if kind == "bool":
        return bool(v)
    if kind == "int":
        return int(v)
    if kind == "decimal":
        return Decimal(str(v))
    if kind == "float":
        return float(v)
    if kind == "ts":
        return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v
    if kind == "json":
        return json.loads(v) if isinstance(v, (str, bytes)) else v
    if kind == "uuid":
        return str(v).lower()
    return v


def _src_rows(name: str) -> list[tuple]:
    if name == "postgresql":
        return ROWS
    # MariaDB has no aware type: its source holds the UTC wall time
    i = NAMES.index("tstz")
    return [(*r[:i], _norm(r[i], "ts"), *r[i + 1 :]) for r in ROWS]


def _make_source(b, name: str, table: str, rows: list[tuple]) -> None:
    col = 1 if name == "postgresql" else 2
    cols = ", ".join(f"{b.q(c)} {spec[col]}" for c, spec in COLUMNS.items())
    b.run(f"DROP TABLE IF EXISTS {b.q(table)}", f"CREATE TABLE {b.q(table)} ({cols})")
    b.many(f"INSERT INTO {b.q(table)} VALUES ({', '.join([b.mark] * len(COLUMNS))})", rows)


def _read(b, table: str, columns=NAMES, kinds=KINDS) -> list[list]:
    got = b.rows(f"SELECT {', '.join(b.q(c) for c in columns)} FROM {b.q(table)} ORDER BY {b.q('id')}")
    # psycopg parses json itself
    kinds = ["parsed" if k == "json" and b.name == "postgresql" else k for k in kinds]
    return [[_norm(v, k) for v, k in zip(r, kinds, strict=True)] for r in got]


def _plan(source: str, dest: str, **kw) -> ReplicationPlan:
    kw.setdefault("use_gmt", True)
    return ReplicationPlan(job_name="tp", query_id=dest, source=TableRef((source,)), destination=dest, **kw)


class Spy:
    """Counts text-pipe loads and row-path loads of every dialect."""

    def __init__(self, monkeypatch) -> None:
        self.text: list[int] = []
        self.rows = 0
        spy = self
        for cls in (MySQLDialect, PostgresDialect):
            real_text, real_load = cls.load_text, cls.load

            def load_text(self, *a, _real=real_text, **kw):
                n = _real(self, *a, **kw)
                spy.text.append(n)
                return n

            def load(self, *a, _real=real_load, **kw):
                spy.rows += 1
                return _real(self, *a, **kw)

            monkeypatch.setattr(cls, "load_text", load_text)
            monkeypatch.setattr(cls, "load", load)


DIRECTIONS = [("mysql", "postgresql"), ("postgresql", "mysql")]


@pytest.mark.parametrize(
    ("src_name", "dst_name", "fast"),
    [("mysql", "postgresql", True), ("mysql", "postgresql", False), ("postgresql", "mysql", True)],
    ids=["mysql-postgresql-cext", "mysql-postgresql-pymysql", "postgresql-mysql"],
)
def test_pipe_copies_edge_values_exactly_as_the_row_path_does(request, monkeypatch, src_name, dst_name, fast):
    from airflow_sync.engine.dialects import mysql

    monkeypatch.setattr(mysql, "FAST_READS", fast)
    src, dst = get_backend(request, src_name), get_backend(request, dst_name)
    _make_source(src, src_name, "tp edge", _src_rows(src_name))
    spy = Spy(monkeypatch)
    for table in ("tp pipe", "tp rows"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")

    summary = run_replication(_plan("tp edge", "tp pipe"), src.url, dst.url)
    assert spy.text == [len(ROWS)] and spy.rows == 0, "the text pipe must carry the load"
    assert (summary.rows_read, summary.rows_inserted) == (len(ROWS), len(ROWS))

    monkeypatch.setattr(hooks, "TEXT_PIPE", False)
    run_replication(_plan("tp edge", "tp rows"), src.url, dst.url)
    assert spy.rows == 1 and len(spy.text) == 1

    piped, rowpath = _read(dst, "tp pipe"), _read(dst, "tp rows")
    expected = [[_norm(v, k) for v, k in zip(r, KINDS, strict=True)] for r in ROWS]
    for exp, p, r in zip(expected, piped, rowpath, strict=True):
        for col, e, a, b in zip(NAMES, exp, p, r, strict=True):
            assert a == b, f"{col}: pipe {a!r} != row path {b!r}"
            assert a == e, f"{col}: pipe {a!r} != source {e!r}"
    # exact raw values too (e.g. -0.0 and 0.0 compare equal above)
    raw = f"SELECT {', '.join(dst.q(c) for c in NAMES)} FROM {{}} ORDER BY {dst.q('id')}"
    assert [repr(r) for r in dst.rows(raw.format(dst.q("tp pipe")))] == [
        repr(r) for r in dst.rows(raw.format(dst.q("tp rows")))
    ]

    monkeypatch.setattr(hooks, "TEXT_PIPE", True)
    again = run_replication(_plan("tp edge", "tp pipe"), src.url, dst.url)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0), "staged re-run"
    assert len(spy.text) == 2, "the stage is loaded through the pipe too"


def test_a_server_date_style_other_than_iso_reaches_mariadb_as_the_same_values(request, monkeypatch):
    """The pipe's lines carry PostgreSQL's text of dates and timestamps: a DateStyle other than ISO (here
    German, from the URL's options, as a server or role default would set it) must not reach MariaDB."""
    src, dst = get_backend(request, "postgresql"), get_backend(request, "mysql")
    _make_source(src, "postgresql", "tp style", ROWS)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('tp style')}")
    spy = Spy(monkeypatch)
    url = src.url + ("&" if "?" in src.url else "?") + "options=-c%20DateStyle%3DGerman"
    run_replication(_plan("tp style", "tp style"), url, dst.url)
    assert spy.text == [len(ROWS)]
    want = [[_norm(v, k) for v, k in zip(r, KINDS, strict=True)] for r in ROWS]
    assert _read(dst, "tp style") == want


def test_aware_timestamps_need_a_zone_sql_can_compute(request, monkeypatch):
    """Local wall time is computed in SQL only when the local zone is UTC; else the row path converts."""
    src, dst = get_backend(request, "postgresql"), get_backend(request, "mysql")
    _make_source(src, "postgresql", "tp zone", ROWS)
    spy = Spy(monkeypatch)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('tp zone')}")
    monkeypatch.setattr(route, "local_is_utc", lambda: False)
    run_replication(_plan("tp zone", "tp zone", use_gmt=False), src.url, dst.url)
    assert (spy.text, spy.rows) == ([], 1)

    monkeypatch.setattr(route, "local_is_utc", lambda: True)
    run_replication(_plan("tp zone", "tp zone", use_gmt=False, truncate_table=True), src.url, dst.url)
    assert spy.text == [len(ROWS)]
    assert _read(dst, "tp zone") == [[_norm(v, k) for v, k in zip(r, KINDS, strict=True)] for r in ROWS]


def test_a_mariadb_source_read_in_another_charset_takes_the_row_path(request, monkeypatch):
    src, dst = get_backend(request, "mysql"), get_backend(request, "postgresql")
    src.run("DROP TABLE IF EXISTS `tp latin`", "CREATE TABLE `tp latin` (id INT PRIMARY KEY, v LONGTEXT)")
    src.many("INSERT INTO `tp latin` VALUES (%s, %s)", [(1, "Zoë")])
    dst.run('DROP TABLE IF EXISTS "tp latin"')
    spy = Spy(monkeypatch)
    url = make_url(src.url).update_query_dict({"charset": "latin1"})
    run_replication(_plan("tp latin", "tp latin"), url, dst.url)
    assert (spy.text, spy.rows) == ([], 1)
    assert dst.rows('SELECT v FROM "tp latin"') == [("Zoë",)]


def test_a_shorter_destination_column_takes_the_row_path(request, monkeypatch):
    src, dst = get_backend(request, "mysql"), get_backend(request, "postgresql")
    src.run("DROP TABLE IF EXISTS `tp short`", "CREATE TABLE `tp short` (id INT PRIMARY KEY, v VARCHAR(10))")
    src.many("INSERT INTO `tp short` VALUES (%s, %s)", [(1, "0123456789")])
    dst.run(
        'DROP TABLE IF EXISTS "tp short"', 'CREATE TABLE "tp short" (id integer PRIMARY KEY, v varchar(5))'
    )
    spy = Spy(monkeypatch)
    plan = _plan("tp short", "tp short", alter_schema=False, auto_truncate_strings=True)
    summary = run_replication(plan, src.url, dst.url)
    assert (spy.text, spy.rows, summary.strings_truncated) == ([], 1, 1)


def test_mariadb_zero_dates_arrive_as_null_as_on_the_row_path(request, monkeypatch):
    src, dst = get_backend(request, "mysql"), get_backend(request, "postgresql")
    src.run(
        "SET SESSION sql_mode = ''",
        "DROP TABLE IF EXISTS `tp zero`",
        "CREATE TABLE `tp zero` (id INT PRIMARY KEY, d DATE, t DATETIME(6))",
        "INSERT INTO `tp zero` VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), "
        "(2, '2024-00-10', '2024-01-00 10:00:00'), (3, '0000-01-01', '2024-02-29 00:00:00.5')",
    )
    spy = Spy(monkeypatch)
    for table, pipe in (("tp zero pipe", True), ("tp zero rows", False)):
        monkeypatch.setattr(hooks, "TEXT_PIPE", pipe)
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
        run_replication(_plan("tp zero", table), src.url, dst.url)
    assert spy.text == [3] and spy.rows == 1
    got = dst.rows('SELECT * FROM "tp zero pipe" ORDER BY id')
    assert got == dst.rows('SELECT * FROM "tp zero rows" ORDER BY id')
    assert got == [(1, None, None), (2, None, None), (3, None, datetime(2024, 2, 29, 0, 0, 0, 500000))]


def _setup_old_contents(dst, table: str, ddl: str) -> list[tuple]:
    dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}", f"CREATE TABLE {dst.q(table)} ({ddl})")
    dst.many(f"INSERT INTO {dst.q(table)} VALUES ({dst.mark}, {dst.mark})", [(1, "old")])
    return dst.rows(f"SELECT * FROM {dst.q(table)}")


def test_a_value_mariadb_rejects_fails_naming_the_column_not_the_value(request, monkeypatch):
    src, dst = get_backend(request, "postgresql"), get_backend(request, "mysql")
    src.run('DROP TABLE IF EXISTS "tp bad"', 'CREATE TABLE "tp bad" (id integer PRIMARY KEY, at timestamp)')
    src.run("INSERT INTO \"tp bad\" VALUES (1, '2024-01-01'), (2, 'infinity')")
    # an existing table of the same shape: its old row must survive the failed load
    dst.run(
        "DROP TABLE IF EXISTS `tp bad`",
        "CREATE TABLE `tp bad` (id INT PRIMARY KEY, `at` DATETIME(6))",
        "INSERT INTO `tp bad` VALUES (7, '2000-01-01')",
    )
    before = dst.rows("SELECT * FROM `tp bad`")
    spy = Spy(monkeypatch)
    with pytest.raises(TerminalReplicationError) as info:
        run_replication(_plan("tp bad", "tp bad", truncate_table=True), src.url, dst.url)
    msg = str(info.value)
    assert "'at'" in msg and "tp bad" in msg and "infinity" not in msg.lower()
    assert spy.text == [] and spy.rows == 0, "the load raised inside the pipe"
    assert dst.rows("SELECT * FROM `tp bad`") == before


def test_duplicate_keys_mariadb_would_skip_fail_the_load(request, monkeypatch):
    src, dst = get_backend(request, "postgresql"), get_backend(request, "mysql")
    src.run('DROP TABLE IF EXISTS "tp dup"', 'CREATE TABLE "tp dup" (id integer, v text)')
    src.run("INSERT INTO \"tp dup\" VALUES (1, 'a'), (1, 'secret')")
    before = _setup_old_contents(dst, "tp dup", "id INT PRIMARY KEY, v LONGTEXT")
    with pytest.raises(TerminalReplicationError, match=r"not accepted loading 'tp dup'.*1062") as info:
        run_replication(_plan("tp dup", "tp dup", truncate_table=True), src.url, dst.url)
    assert "secret" not in str(info.value)
    assert dst.rows("SELECT * FROM `tp dup`") == before


def test_a_value_postgresql_rejects_fails_naming_the_column(request, monkeypatch):
    src, dst = get_backend(request, "mysql"), get_backend(request, "postgresql")
    src.run("DROP TABLE IF EXISTS `tp null`", "CREATE TABLE `tp null` (id INT PRIMARY KEY, v LONGTEXT)")
    src.many("INSERT INTO `tp null` VALUES (%s, %s)", [(1, "x"), (2, None)])
    before = _setup_old_contents(dst, "tp null", "id integer PRIMARY KEY, v text NOT NULL")
    spy = Spy(monkeypatch)
    with pytest.raises(TerminalReplicationError, match=r"column 'v'"):
        run_replication(_plan("tp null", "tp null", truncate_table=True), src.url, dst.url)
    assert spy.rows == 0
    assert dst.rows('SELECT * FROM "tp null"') == before


def _infile_conn(request):
    return MySQLDialect(make_url(get_backend(request, "mysql").url)).connect()


def test_the_connection_refuses_local_files_it_did_not_offer(request, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("42\n")
    conn = _infile_conn(request)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS tp_infile")
            cur.execute("CREATE TABLE tp_infile (v INT)")
            # not armed: a request for any file is refused
            with pytest.raises(pymysql.err.OperationalError, match="refused"):
                cur.execute(f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE tp_infile")
            # armed for another name (what a hostile server asking for its own choice looks like)
            conn._infile_name, conn._infile_data = b"airflow_sync-ours", iter([b"7\n"])
            conn._local_infile = True
            with pytest.raises(pymysql.err.OperationalError, match="refused"):
                cur.execute(f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE tp_infile")
            assert conn._infile_name is None, "an offer serves one request at most"
            cur.execute("SELECT COUNT(*) FROM tp_infile")
            assert cur.fetchone() == (0,), "the connection stays usable and nothing was uploaded"
            cur.execute("DROP TABLE tp_infile")
    finally:
        conn.close()


def test_mariadb_without_local_infile_takes_the_row_path(request, monkeypatch):
    src, dst = get_backend(request, "postgresql"), get_backend(request, "mysql")
    _make_source(src, "postgresql", "tp off", ROWS)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('tp off')}")
    monkeypatch.setattr(MySQLDialect, "_local_infile_on", lambda self, conn: False)
    spy = Spy(monkeypatch)
    run_replication(_plan("tp off", "tp off"), src.url, dst.url)
    assert (spy.text, spy.rows) == ([], 1)
    assert _read(dst, "tp off") == [[_norm(v, k) for v, k in zip(r, KINDS, strict=True)] for r in ROWS]


@pytest.mark.parametrize(("src_name", "dst_name"), DIRECTIONS)
def test_cancel_mid_pipe_stops_and_keeps_the_old_contents(request, monkeypatch, src_name, dst_name):
    src, dst = get_backend(request, src_name), get_backend(request, dst_name)
    src.run(f"DROP TABLE IF EXISTS {src.q('tp cancel')}")
    src.run(f"CREATE TABLE {src.q('tp cancel')} (id INTEGER PRIMARY KEY, v VARCHAR(20))")
    src.many(
        f"INSERT INTO {src.q('tp cancel')} VALUES ({src.mark}, {src.mark})",
        [(i, f"v{i}") for i in range(20000)],
    )
    before = _setup_old_contents(dst, "tp cancel", "id INTEGER PRIMARY KEY, v VARCHAR(20)")
    token = CancelToken()
    blocks: list[int] = []
    src_cls: type[Dialect] = MySQLDialect if src_name == "mysql" else PostgresDialect
    real_stream = src_cls.text_stream

    def stream(self, *a, **kw):
        inner = real_stream(self, *a, **kw)

        def gen():
            for b in inner:
                blocks.append(len(b))
                if len(blocks) == 2:
                    # from another thread, as the operator's on_kill does
                    t = threading.Thread(target=token.cancel)
                    t.start()
                    t.join()
                yield b

        return gen()

    monkeypatch.setattr(src_cls, "text_stream", stream)
    with pytest.raises(ReplicationCancelled):
        run_replication(
            _plan("tp cancel", "tp cancel", truncate_table=True, batch_size=500),
            src.url,
            dst.url,
            cancel=token,
        )
    assert 2 <= len(blocks) <= 3, "the pipe stops at the next block"
    assert dst.rows(f"SELECT * FROM {dst.q('tp cancel')}") == before


def test_mariadb_to_mariadb_on_another_connection_uses_the_pipe(request, monkeypatch):
    """Different servers (here: the same server reached with other credentials) copy through the pipe."""
    b = get_backend(request, "mysql")
    _make_source(b, "mysql", "tp mm", _src_rows("mysql"))
    b.run("DROP TABLE IF EXISTS `tp mm copy`", "DROP TABLE IF EXISTS `tp mm rows`")
    spy = Spy(monkeypatch)
    monkeypatch.setattr(MySQLDialect, "attach", lambda self, conn, source: None)
    run_replication(_plan("tp mm", "tp mm copy"), b.url, b.url)
    monkeypatch.setattr(hooks, "TEXT_PIPE", False)
    run_replication(_plan("tp mm", "tp mm rows"), b.url, b.url)
    assert spy.text == [len(ROWS)] and spy.rows == 1
    assert _read(b, "tp mm copy") == _read(b, "tp mm rows")
    assert _read(b, "tp mm copy") == [[_norm(v, k) for v, k in zip(r, KINDS, strict=True)] for r in ROWS]


def test_incremental_windows_through_the_pipe_keep_the_watermark(request, monkeypatch):
    src, dst = get_backend(request, "mysql"), get_backend(request, "postgresql")
    src.run(
        "DROP TABLE IF EXISTS `tp inc`",
        "CREATE TABLE `tp inc` (id INT PRIMARY KEY, v VARCHAR(10), updated_at DATETIME(6))",
    )
    src.many(
        "INSERT INTO `tp inc` VALUES (%s, %s, %s)",
        [(i, f"v{i}", datetime(2026, 1, 1 + i, 12, 0, 0, 250000)) for i in range(5)],
    )
    spy = Spy(monkeypatch)

    def runs(dest: str) -> list[tuple]:
        dst.run(f"DROP TABLE IF EXISTS {dst.q(dest)}")
        # a far offset: the watermark is the largest value read (max_seen), not the run start
        plan = _plan("tp inc", dest, replicate_interval=365, max_lastmod_offset=400_000_000)
        first = run_replication(plan, src.url, dst.url)
        src.run("UPDATE `tp inc` SET v = 'new', updated_at = '2026-02-01 00:00:00.5' WHERE id = 2")
        second = run_replication(plan, src.url, dst.url)
        src.run("UPDATE `tp inc` SET v = 'v2', updated_at = '2026-01-03 12:00:00.25' WHERE id = 2")
        return [(s.rows_inserted, s.rows_updated, s.watermark_after) for s in (first, second)] + dst.rows(
            f"SELECT * FROM {dst.q(dest)} ORDER BY id"
        )

    piped = runs("tp inc pipe")
    assert spy.text and spy.rows == 0
    monkeypatch.setattr(hooks, "TEXT_PIPE", False)
    assert runs("tp inc rows") == piped
    assert spy.rows > 0
    assert piped[:2] == [(5, 0, "2026-01-05T12:00:00.250000"), (0, 1, "2026-02-01T00:00:00.500000")]

"""MariaDB into SQLite through connectorx (engine/dialects/mysql_arrow.py, ADR 0008): SQLite holds exactly
what the row path stores for the values MariaDB has and PostgreSQL does not (zero dates, unsigned integers,
booleans other than 0/1, second and millisecond timestamps, ENUM, latin1 text); cancel kills the reader
process and its statement, and the task's other threads run meanwhile; a password with URL characters
connects; connectorx's panics hand the load to the path below, and the value they print stays in the reader
process."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from airflow_sync.engine import hooks, route
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects import mysql_arrow, sqlite_ingest
from airflow_sync.engine.dialects.sqlite_arrow import NotExact
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from tests.integration.engine.conftest import get_backend
from tests.integration.engine.test_into_sqlite import _plan
from tests.integration.engine.test_into_sqlite_arrow import Spy

pytestmark = pytest.mark.skipif(
    not (sqlite_ingest.available("mysql") and mysql_arrow.available()), reason="needs the arrow extra"
)

ODD = {
    "id": "INT PRIMARY KEY",
    "d": "DATE",
    "t0": "DATETIME",
    "t3": "DATETIME(3)",
    "t6": "TIMESTAMP(6) NULL",
    "flag": "TINYINT(1)",
    "u32": "INT UNSIGNED",
    "u64": "BIGINT UNSIGNED",
    "u16": "SMALLINT UNSIGNED",
    "y": "YEAR",
    "e": "ENUM('x', 'ü')",
    "l1": "VARCHAR(8) CHARACTER SET latin1",
    "f": "DOUBLE",
}
ODD_ROWS = [
    "(1, '0000-00-00', '0000-00-00 00:00:00', '2024-00-10 10:00:00.5', '2024-01-01 00:00:00', 2, 4294967295, "
    "18446744073709551615, 65535, 2024, 'ü', 'çé', 0.1)",
    "(2, '2024-00-10', '2024-02-29 23:59:59', '2024-02-29 23:59:59.999', '2038-01-19 03:14:07.999999', -1, "
    "0, 0, 0, 1901, 'x', '', -0.0)",
    "(3, '0999-01-01', '1000-01-01 00:00:00', '2024-01-01 00:00:00.000', '1970-01-01 00:00:01.000001', 0, 1, "
    "9223372036854775808, 1, 2155, 'x', 'x', 1e308)",
    "(4, '2024-01-00', '9999-12-31 23:59:59', '0000-00-00 00:00:00', NULL, 1, NULL, NULL, NULL, NULL, NULL, "
    "NULL, 5e-324)",
    "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


@pytest.fixture(autouse=True)
def _small_loads_too(monkeypatch):
    monkeypatch.setattr(route, "INGEST_MIN_ROWS", 1)


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The SELECT of each connectorx read."""
    seen: list[str] = []
    real = mysql_arrow.batches

    def spy(params: Any, sql: str, forms: Any, token: Any, beside: str) -> Any:
        seen.append(sql)
        return real(params, sql, forms, token, beside)

    monkeypatch.setattr(mysql_arrow, "batches", spy)
    return seen


def _odd(request) -> Any:
    src = get_backend(request, "mysql")
    cols = ", ".join(f"{src.q(c)} {t}" for c, t in ODD.items())
    src.run(
        # zero dates and zero parts need a permissive sql_mode, as an old application would have had
        "SET SESSION sql_mode = ''",
        "SET SESSION time_zone = '+00:00'",
        "DROP TABLE IF EXISTS `sqx odd`",
        f"CREATE TABLE `sqx odd` ({cols})",
        f"INSERT INTO `sqx odd` VALUES {', '.join(ODD_ROWS)}",
    )
    return src


def _stored(dst, table: str) -> list[tuple]:
    items = ", ".join(f"typeof({dst.q(c)}), {dst.q(c)}" for c in ODD)
    return dst.rows(f"SELECT {items} FROM {dst.q(table)} ORDER BY id")


def test_mariadb_values_stored_exactly_as_the_row_path_stores_them(request, monkeypatch, reads):
    src = _odd(request)
    dst = get_backend(request, "sqlite")
    for table in ("sqx cx", "sqx rows"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
    monkeypatch.setattr(mysql_arrow, "BATCH_ROWS", 2)  # seams between the rows
    spy = Spy(monkeypatch)
    summary = run_replication(_plan("sqx odd", "sqx cx"), src.url, dst.url)
    assert spy.results == [len(ODD_ROWS)] and len(reads) == 1, "connectorx carried the load"
    assert summary.batches == 3
    for switch in ("ARROW", "TEXT_PIPE", "ROW_RENDER"):
        monkeypatch.setattr(hooks, switch, False)
    run_replication(_plan("sqx odd", "sqx rows"), src.url, dst.url)

    fast, slow = _stored(dst, "sqx cx"), _stored(dst, "sqx rows")
    for f, r in zip(fast, slow, strict=True):
        for i, col in enumerate(ODD):
            assert f[2 * i : 2 * i + 2] == r[2 * i : 2 * i + 2], f"{col}: connectorx {f[2 * i : 2 * i + 2]!r}"
    assert repr(fast) == repr(slow)
    # what the row path stores, spelt out for the values only MariaDB has
    dates = [("null", None), ("null", None), ("text", "0999-01-01"), ("null", None), ("null", None)]
    assert [r[2:4] for r in fast] == dates
    assert fast[0][6:8] == ("null", None) and fast[1][6:8] == ("text", "2024-02-29 23:59:59.999000")
    assert fast[2][6:8] == ("text", "2024-01-01 00:00:00") and fast[1][4:6] == ("text", "2024-02-29 23:59:59")
    assert [r[11] for r in fast[:4]] == [1, 1, 0, 1], "TINYINT(1) 2 and -1 are true"
    assert fast[0][12:14] == ("integer", 4294967295) and fast[0][16:18] == ("integer", 65535)
    assert fast[0][14:16] == ("text", "18446744073709551615"), "BIGINT UNSIGNED whole (row path fixed too)"


def test_cancel_kills_the_statement_in_flight(request, monkeypatch, reads):
    """connectorx's connection is not the engine's: a cancel finds its statement by the marker in its text
    and kills it, while the server is still computing the first batch."""
    src = get_backend(request, "mysql")
    src.run(
        "DROP TABLE IF EXISTS `sqx base`",
        "CREATE TABLE `sqx base` (id INT PRIMARY KEY)",
        "INSERT INTO `sqx base` VALUES " + ", ".join(f"({i})" for i in range(1, 201)),
        "CREATE OR REPLACE VIEW `sqx slow` AS SELECT id, SLEEP(0.25) AS s FROM `sqx base`",
    )
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqx slow"')
    token, outcome = CancelToken(), []

    def run() -> None:
        try:
            run_replication(_plan("sqx slow", "sqx slow"), src.url, dst.url, cancel=token)
            outcome.append("done")
        except ReplicationCancelled:
            outcome.append("cancelled")

    worker = threading.Thread(target=run)
    worker.start()
    running = (
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE INFO LIKE '%airflow_sync_read_%' AND ID <> CONNECTION_ID()"
    )
    try:
        for _ in range(600):  # the read starts within a second or two; 50 s at most
            if src.rows(running)[0][0]:
                break
            worker.join(0.05)
        assert src.rows(running)[0][0] == 1 and reads, "connectorx's statement runs"
        token.cancel()
        worker.join(30)  # the view alone takes 50 s
    finally:
        token.cancel()
        worker.join(60)
    assert outcome == ["cancelled"]
    assert src.rows(running)[0][0] == 0, "the statement was killed, not left to run"
    assert dst.rows("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqx slow'") in ([(0,)], [(1,)])


def test_a_password_with_url_characters_connects(request, monkeypatch, reads):
    src = _odd(request)
    user, password = f"as_cx_{uuid.uuid4().hex[:8]}", "p@ss:w/rd%#?&= x"
    database = src.rows("SELECT DATABASE()")[0][0]
    src.run(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'",
    )
    try:
        from sqlalchemy.engine import make_url

        url = make_url(src.url).set(username=user, password=password)
        dst = get_backend(request, "sqlite")
        dst.run('DROP TABLE IF EXISTS "sqx pw"')
        spy = Spy(monkeypatch)
        summary = run_replication(_plan("sqx odd", "sqx pw"), url.render_as_string(False), dst.url)
        assert spy.results == [len(ODD_ROWS)] and len(reads) == 1 and summary.rows_inserted == len(ODD_ROWS)
    finally:
        src.run(f"DROP USER '{user}'@'%'")


def test_a_panic_of_connectorx_is_not_exact_and_quotes_no_value(request, capfd, tmp_path):
    """Read natively, a zero date makes connectorx panic: the path hands over; the panic's message, which
    names the value, stays in the reader process (its stderr is read, never forwarded)."""
    src = _odd(request)
    from sqlalchemy.engine import make_url

    u = make_url(src.url)
    params = {"host": u.host, "port": u.port, "user": u.username, "password": "", "database": u.database}
    with pytest.raises(NotExact) as err:
        list(mysql_arrow.batches(params, "SELECT d FROM `sqx odd`", ["string"], CancelToken(), str(tmp_path)))
    assert "connectorx stopped: PanicException" in str(err.value) and "0000-00-00" not in str(err.value)
    assert "0000-00-00" not in capfd.readouterr().err


def test_the_url_is_refused_where_connectorx_would_connect_otherwise():
    base = {"host": "db", "port": 3306, "user": "u", "password": "p", "database": "d", "charset": "utf8mb4"}
    assert mysql_arrow.url(base) == "mysql://u:p@db:3306/d?prefer_socket=false"
    assert mysql_arrow.url({**base, "ssl_ca": "/ca.pem"}) is None, "TLS: the text pipe's reader verifies it"
    assert mysql_arrow.url({**base, "charset": "latin1"}) is None
    assert mysql_arrow.arrow_field("float32", "float", "q.`f`") is None
    assert mysql_arrow.arrow_field("int64", "int", "q.`u`") == ("q.`u`", "int")
    assert mysql_arrow.arrow_field("timestamp", "datetime", "q.`t`") == ("CAST(q.`t` AS CHAR)", "timestamp")


def test_a_column_refused_by_the_reader_falls_back_to_the_lines(request, monkeypatch, reads):
    """The reader refuses a column arriving in another form than asked (here: told to expect a double where
    the server sends an integer): the text pipe's lines through Arrow take the load; one load reaches the
    destination."""
    src = _odd(request)
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqx fall"')
    real = route.mysql_arrow_fields

    def wrong(ctx: Any) -> Any:
        fields = real(ctx)
        return [(fields[0][0], "double"), *fields[1:]]

    monkeypatch.setattr(route, "mysql_arrow_fields", wrong)
    spy = Spy(monkeypatch)
    summary = run_replication(_plan("sqx odd", "sqx fall"), src.url, dst.url)
    assert spy.results == [None, len(ODD_ROWS)] and len(reads) == 1
    assert summary.rows_inserted == len(ODD_ROWS)
    assert dst.rows('SELECT COUNT(*) FROM "sqx fall"') == [(len(ODD_ROWS),)]

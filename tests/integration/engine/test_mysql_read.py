"""The C-extension reads of MariaDB (engine/dialects/mysql_read.py) let go of their connection at once when
closed early or when their result needs PyMySQL's decoding: mysql-connector 9.7's C-extension connection
has no ``shutdown()``, and the read used to fail (a SET column) or keep its connection open (early close)."""

from __future__ import annotations

import pytest

from airflow_sync.engine import write
from airflow_sync.engine.dialects import mysql_read
from airflow_sync.engine.dialects.mysql import MySQLDialect
from airflow_sync.engine.replicate import run_replication
from tests.integration.engine.conftest import get_backend
from tests.integration.engine.test_into_sqlite import _plan

pytestmark = pytest.mark.skipif(not mysql_read.available(), reason="needs mysql-connector's C extension")


def _gone(src, cid: int) -> bool:
    """The connection ``cid`` left the server (polled: the server notices a closed socket at once)."""
    for _ in range(200):
        if src.rows(f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {cid}") == [(0,)]:
            return True
        src.rows("SELECT SLEEP(0.05)")
    return False


@pytest.fixture
def src(request):
    b = get_backend(request, "mysql")
    b.run(
        "DROP TABLE IF EXISTS `mr big`",
        "CREATE TABLE `mr big` (id INT PRIMARY KEY, s SET('p', 'q'))",
        "INSERT INTO `mr big` (id) SELECT seq FROM seq_1_to_20000",
    )
    return b


def test_a_read_closed_early_lets_go_of_its_connection(src):
    readers: dict[int, object] = {}
    params = MySQLDialect.__new__(MySQLDialect)
    from sqlalchemy.engine import make_url

    MySQLDialect.__init__(params, make_url(src.url))
    stream = mysql_read.open_fast_stream(params.connect_params(), "SELECT id FROM `mr big`", (), 10, readers)
    assert stream is not None
    assert len(next(stream)) == 10
    (cid,) = readers
    stream.close()
    assert readers == {} and _gone(src, cid)


def test_a_result_for_pymysql_lets_go_of_its_connection(src):
    """A SET column: the C extension would decode it otherwise, so the read hands over (None)."""
    readers: dict[int, object] = {}
    params = MySQLDialect.__new__(MySQLDialect)
    from sqlalchemy.engine import make_url

    MySQLDialect.__init__(params, make_url(src.url))
    before = {r[0] for r in src.rows("SELECT ID FROM information_schema.PROCESSLIST")}
    assert (
        mysql_read.open_fast_stream(params.connect_params(), "SELECT s FROM `mr big`", (), 10, readers)
        is None
    )
    assert readers == {}
    after = {r[0] for r in src.rows("SELECT ID FROM information_schema.PROCESSLIST")}
    assert all(_gone(src, cid) for cid in after - before)


@pytest.mark.parametrize("dst_name", ["sqlite", "postgresql", "mysql"])
def test_zero_dates_read_through_pymysql_are_null_as_through_the_c_extension(request, monkeypatch, dst_name):
    """A SET column hands the read to PyMySQL, and a FLOAT column keeps it on the row path: zero dates and
    dates with a zero part are NULL there too (PyMySQL kept their text: SQLite stored '0000-00-00' and
    PostgreSQL refused the load)."""
    src = get_backend(request, "mysql")
    src.run(
        "SET SESSION sql_mode = ''",
        "DROP TABLE IF EXISTS `mr zero`",
        "CREATE TABLE `mr zero` (id INT PRIMARY KEY, d DATE, t DATETIME, ts TIMESTAMP NULL, s SET('p', 'q'), "
        "f FLOAT)",
        "INSERT INTO `mr zero` VALUES (1, '0000-00-00', '2024-00-10 00:00:00', '0000-00-00 00:00:00', 'p', "
        "0.5), (2, '2024-01-02', '2024-01-02 03:04:05', NULL, NULL, NULL)",
    )
    dst = get_backend(request, dst_name)
    dst.run(f"DROP TABLE IF EXISTS {dst.q('mr zero out')}")
    calls: list[int] = []
    real = write._load_rows
    monkeypatch.setattr(write, "_load_rows", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    summary = run_replication(_plan("mr zero", "mr zero out"), src.url, dst.url)
    assert calls and summary.rows_inserted == 2, "the row path carried the load"
    got = dst.rows(f"SELECT d, t, ts, s FROM {dst.q('mr zero out')} ORDER BY id")
    assert got[0] == (None, None, None, "p")
    assert str(got[1][0]) == "2024-01-02" and str(got[1][1]) == "2024-01-02 03:04:05"

"""TLS options of a MySQL connection reach both drivers; without options, one shared "preferred" context."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.engine import make_url

from airflow_sync.engine.dialects.mysql import MySQLDialect
from airflow_sync.engine.dialects.mysql_read import available, open_fast_stream
from airflow_sync.engine.dialects.mysql_tls import preferred_context

CA = "/etc/ssl/certs/ca-certificates.crt"


def _with_ca(mysql_url: str) -> MySQLDialect:
    url = make_url(mysql_url)
    return MySQLDialect(url.update_query_dict({"ssl_ca": CA}))


def test_a_ca_makes_tls_required_for_the_engine_connection(mysql_url):
    # the test server offers no TLS: a connection that must verify the server cannot be made
    with pytest.raises(pymysql.err.OperationalError, match="SSL"):
        _with_ca(mysql_url).connect()


@pytest.mark.skipif(not available(), reason="mysql-connector-python's C extension is not installed")
def test_a_ca_makes_tls_required_for_the_fast_reader_too(mysql_url):
    import mysql.connector

    # the C extension alone would read in plain text from a server without TLS
    d = _with_ca(mysql_url)
    readers: dict = {}
    with pytest.raises(mysql.connector.errors.InterfaceError, match="did not use TLS"):
        open_fast_stream(d._params(), "SELECT 1", (), 10, readers)
    assert readers == {}


def test_without_options_every_connection_shares_one_unverified_context(mysql_url):
    d = MySQLDialect(make_url(mysql_url))
    a, b = d.connect(), d.connect()
    try:
        assert a.ctx is b.ctx is preferred_context()
        assert preferred_context().verify_mode.name == "CERT_NONE"
        assert a.query("SELECT 1") == 1  # and the connection works
    finally:
        a.close()
        b.close()

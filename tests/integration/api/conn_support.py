"""Helpers of the connections API tests: real databases behind real Airflow connections.

``browse_pg`` / ``browse_mysql`` / ``browse_sqlite`` (see test modules) fill a database with the same small
catalog — a schema ``crm`` (PostgreSQL) or the session database (MariaDB) with tables ``accounts`` (primary
key, varchar(100), numeric(12,2), nullable timestamp), ``orders`` and a view ``big_accounts`` — and store an
Airflow connection for it in the metadata DB with a password, so masking can be checked.
"""

from __future__ import annotations

import pathlib
import sqlite3
import uuid
from typing import Any

from sqlalchemy.engine import make_url

API = "/api.rsc"
#: a password that must never appear in any response (PostgreSQL trusts the local user; MariaDB's root has
#: no password, so MariaDB connections carry none)
PG_PASSWORD = "Pg-s3cret-pass!"
SECRET_TOKEN = "tok-very-secret-123"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def store_connection(conn_id: str, conn_type: str, **fields: Any) -> None:
    """An Airflow connection row in the metadata DB (as the Airflow UI or CLI would create it)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as s:
        s.add(Connection(conn_id=conn_id, conn_type=conn_type, **fields))


def pg_catalog(url: str) -> None:
    import psycopg

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS crm CASCADE")
        c.execute("CREATE SCHEMA crm")
        c.execute(
            "CREATE TABLE crm.accounts (id integer PRIMARY KEY, name varchar(100) NOT NULL, "
            "balance numeric(12,2), updated_at timestamp)"
        )
        c.execute("CREATE TABLE crm.orders (order_id bigint, note text, PRIMARY KEY (order_id))")
        c.execute("CREATE VIEW crm.big_accounts AS SELECT id, name FROM crm.accounts WHERE balance > 1000")
        c.execute('CREATE TABLE public."Mixed Case" ("Key" integer PRIMARY KEY)')


def pg_connection(url: str) -> str:
    u = make_url(url)
    conn_id = unique("as_conn_pg")
    store_connection(
        conn_id,
        "postgres",
        host=u.host,
        port=u.port,
        login=u.username,
        password=PG_PASSWORD,
        schema=u.database,
        extra=f'{{"sslmode": "disable", "api_token": "{SECRET_TOKEN}"}}',
    )
    return conn_id


def mysql_catalog(url: str) -> None:
    import pymysql

    u = make_url(url)
    conn = pymysql.connect(host=u.host, port=u.port, user=u.username, database=u.database, autocommit=True)
    try:
        with conn.cursor() as cur:
            for stmt in (
                "DROP VIEW IF EXISTS big_accounts",
                "DROP TABLE IF EXISTS accounts",
                "DROP TABLE IF EXISTS orders",
                "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                "balance DECIMAL(12,2), updated_at DATETIME NULL)",
                "CREATE TABLE orders (order_id BIGINT PRIMARY KEY, note TEXT)",
                "CREATE VIEW big_accounts AS SELECT id, name FROM accounts WHERE balance > 1000",
            ):
                cur.execute(stmt)
    finally:
        conn.close()


def mysql_connection(url: str) -> str:
    u = make_url(url)
    conn_id = unique("as_conn_my")
    store_connection(conn_id, "mysql", host=u.host, port=u.port, login=u.username, schema=u.database)
    return conn_id


def sqlite_catalog(home: str) -> tuple[str, str]:
    """A SQLite file with the same catalog, and an Airflow connection to it; returns (conn_id, path)."""
    path = pathlib.Path(home, f"{unique('browse')}.db")
    with sqlite3.connect(path) as c:
        c.execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            "balance NUMERIC(12,2), updated_at TIMESTAMP)"
        )
        c.execute("CREATE TABLE orders (order_id BIGINT PRIMARY KEY, note TEXT)")
        c.execute("CREATE VIEW big_accounts AS SELECT id, name FROM accounts WHERE balance > 1000")
        c.execute("CREATE TABLE _airflow_sync_state (job TEXT)")  # the engine's own: not listed
    conn_id = unique("as_conn_lite")
    store_connection(conn_id, "sqlite", host=str(path))
    return conn_id, str(path)


def rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "@odata.context" in body
    return body["value"]


class CapturedLogs:
    """Every record of the ``airflow_sync`` loggers while active (``text``: all messages, formatted).

    Attached to the loggers themselves and re-enabling them: a ``logging.dictConfig`` run earlier in the
    same process (Airflow's, in other tests) may have disabled loggers that already existed, which would
    make a check for "no secret in the logs" pass without seeing any log.
    """

    def __init__(self) -> None:
        import logging

        self.records: list[logging.LogRecord] = []
        outer = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                outer.records.append(record)

        self.handler = _Handler(level=logging.DEBUG)
        self._saved: list[tuple[logging.Logger, bool, int]] = []

    def __enter__(self) -> CapturedLogs:
        import logging

        root = logging.getLogger("airflow_sync")
        loggers = [root] + [
            lg for name, lg in logging.root.manager.loggerDict.items()
            if name.startswith("airflow_sync.") and isinstance(lg, logging.Logger)
        ]  # fmt: skip
        for lg in loggers:
            self._saved.append((lg, lg.disabled, lg.level))
            lg.disabled = False
        root.setLevel(logging.DEBUG)
        root.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import logging

        logging.getLogger("airflow_sync").removeHandler(self.handler)
        for lg, disabled, level in self._saved:
            lg.disabled, lg.level = disabled, level

    @property
    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)

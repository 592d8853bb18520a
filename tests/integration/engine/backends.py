"""Helpers for engine integration tests: one small API over SQLite, PostgreSQL and MariaDB test databases."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import make_url


class Backend:
    name: str
    url: str

    def connect(self) -> Any:
        raise NotImplementedError

    def q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def run(self, *statements: str, params: Any = None) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            for s in statements:
                cur.execute(s, params) if params is not None else cur.execute(s)
            conn.commit()
        finally:
            conn.close()

    def many(self, sql: str, rows: list[tuple]) -> None:
        conn = self.connect()
        try:
            conn.cursor().executemany(sql, rows)
            conn.commit()
        finally:
            conn.close()

    def rows(self, sql: str) -> list[tuple]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    @property
    def mark(self) -> str:
        return "%s"


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def connect(self) -> Any:
        return sqlite3.connect(self.path)

    @property
    def mark(self) -> str:
        return "?"


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self) -> Any:
        import psycopg

        u = make_url(self.url)
        return psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)


class MySQLBackend(Backend):
    name = "mysql"

    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self) -> Any:
        import pymysql

        u = make_url(self.url)
        return pymysql.connect(
            host=u.host, port=u.port, user=u.username, database=u.database, charset="utf8mb4"
        )

    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"


def norm(v: Any, kind: str) -> Any:
    """A comparable form of a value read back from any backend."""
    if v is None:
        return None
    if kind == "bool":
        return bool(v)
    if kind == "int":
        return int(v)
    if kind == "decimal":
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v))
    if kind == "float":
        return float(v)
    if kind == "str":
        return v
    if kind == "bytes":
        return bytes(v)
    if kind == "date":
        return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])
    if kind == "time":
        if isinstance(v, timedelta):
            return (datetime(2000, 1, 1) + v).time()
        return v if isinstance(v, time) else time.fromisoformat(str(v))
    if kind in ("ts", "tstz"):
        d = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
        return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d
    if kind == "json":
        return json.loads(v) if isinstance(v, (str, bytes)) else v
    raise AssertionError(kind)

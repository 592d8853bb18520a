"""The three database kinds the benchmark runs on, and the per-run databases it creates and drops.

Services as on the project's machines (overridable like ``tests/services.py``): PostgreSQL and MariaDB on
127.0.0.1, SQLite files in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["sqlite", "postgres", "mariadb"]
KINDS: tuple[Kind, ...] = ("sqlite", "postgres", "mariadb")
SHORT = {"sqlite": "sqlite", "postgres": "pg", "mariadb": "maria"}

PG_HOST = os.environ.get("AIRFLOW_SYNC_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AIRFLOW_SYNC_PG_PORT", "5432"))
PG_USER = os.environ.get("AIRFLOW_SYNC_PG_USER", "postgres")
MY_HOST = os.environ.get("AIRFLOW_SYNC_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("AIRFLOW_SYNC_MYSQL_PORT", "3306"))
MY_USER = os.environ.get("AIRFLOW_SYNC_MYSQL_USER", "root")


@dataclass(frozen=True)
class Endpoint:
    """One database the benchmark reads from or writes to.

    :param kind: sqlite, postgres or mariadb
    :param database: database name (PostgreSQL/MariaDB) or file path (SQLite)
    """

    kind: Kind
    database: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL, as airflow_sync receives it from an Airflow connection."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.database}"
        if self.kind == "postgres":
            return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
        return f"mysql+pymysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{self.database}?charset=utf8mb4"

    def airflow_connection(self) -> dict[str, Any]:
        """The Airflow connection (JSON form of ``AIRFLOW_CONN_<ID>``) a GenericTransfer user would define."""
        if self.kind == "sqlite":
            return {"conn_type": "sqlite", "host": self.database}
        if self.kind == "postgres":
            return {
                "conn_type": "postgres",
                "host": PG_HOST,
                "port": PG_PORT,
                "login": PG_USER,
                "schema": self.database,
            }
        return {
            "conn_type": "mysql",
            "host": MY_HOST,
            "port": MY_PORT,
            "login": MY_USER,
            "schema": self.database,
            # mysqlclient cannot be built here; the mysql provider's other supported client is used.
            "extra": {"client": "mysql-connector-python", "charset": "utf8mb4"},
        }

    def connect(self) -> Any:
        """A plain DB-API connection (autocommit off) for setup and verification."""
        if self.kind == "sqlite":
            return sqlite3.connect(self.database)
        if self.kind == "postgres":
            import psycopg

            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.database)
        import pymysql

        return pymysql.connect(
            host=MY_HOST, port=MY_PORT, user=MY_USER, database=self.database, charset="utf8mb4"
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as c:
        c.execute(sql)


def _my_admin(sql: str) -> None:
    import pymysql

    conn = pymysql.connect(host=MY_HOST, port=MY_PORT, user=MY_USER, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


class Workspace:
    """Creates the per-run databases (``bench_<pid>_<role>``) and drops them all on :meth:`close`."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.tmpdir = tempfile.mkdtemp(prefix="airflow_sync_bench_")
        self._created: list[Endpoint] = []

    def create(self, kind: Kind, role: str) -> Endpoint:
        """A fresh, empty database of ``kind``; ``role`` (src/dst) only makes the name readable."""
        name = f"bench_{os.getpid()}_{role}"
        if kind == "sqlite":
            ep = Endpoint(kind, os.path.join(self.tmpdir, f"{role}.db"))
        elif kind == "postgres":
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _pg_admin(f'CREATE DATABASE "{name}"')
            ep = Endpoint(kind, name)
        else:
            _my_admin(f"DROP DATABASE IF EXISTS `{name}`")
            _my_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            ep = Endpoint(kind, name)
        self._created.append(ep)
        return ep

    def close(self) -> None:
        if self.keep:
            print(f"--keep: databases left in place: {[e.database for e in self._created]}")
            return
        for ep in self._created:
            try:
                if ep.kind == "postgres":
                    _pg_admin(f'DROP DATABASE IF EXISTS "{ep.database}" WITH (FORCE)')
                elif ep.kind == "mariadb":
                    _my_admin(f"DROP DATABASE IF EXISTS `{ep.database}`")
            except Exception as exc:  # best effort: report, keep dropping the others
                print(f"warning: could not drop {ep.kind} database {ep.database}: {exc}")
        shutil.rmtree(self.tmpdir, ignore_errors=True)

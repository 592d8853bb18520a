"""Real services for tests: create and drop per-run databases on the local PostgreSQL and MariaDB.

Hosts and ports come from ``AIRFLOW_SYNC_PG_*`` / ``AIRFLOW_SYNC_MYSQL_*`` (defaults: 127.0.0.1:5432 user
postgres with trust auth, 127.0.0.1:3306 root without password), as on the project's machines and CI.
"""

from __future__ import annotations

import os
import socket

import pytest

PG_HOST = os.environ.get("AIRFLOW_SYNC_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AIRFLOW_SYNC_PG_PORT", "5432"))
PG_USER = os.environ.get("AIRFLOW_SYNC_PG_USER", "postgres")
MY_HOST = os.environ.get("AIRFLOW_SYNC_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("AIRFLOW_SYNC_MYSQL_PORT", "3306"))
MY_USER = os.environ.get("AIRFLOW_SYNC_MYSQL_USER", "root")


def services_required() -> bool:
    return os.environ.get("AIRFLOW_SYNC_REQUIRE_SERVICES", "") not in ("", "0", "false", "False")


def unavailable(what: str) -> None:
    """Skip (developer machine without the service) or fail (CI, AIRFLOW_SYNC_REQUIRE_SERVICES=1)."""
    if services_required():
        pytest.fail(f"{what} is required (AIRFLOW_SYNC_REQUIRE_SERVICES=1) but not reachable", pytrace=False)
    pytest.skip(f"{what} not reachable")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pg_admin_url(database: str = "postgres") -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def create_pg_database(name: str) -> str:
    if not _reachable(PG_HOST, PG_PORT):
        unavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT}")
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    return pg_admin_url(name)


def drop_pg_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
        ) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # best effort at teardown
        pass


def mysql_admin_url(database: str = "") -> str:
    return f"mysql+pymysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{database}?charset=utf8mb4"


def create_mysql_database(name: str) -> str:
    if not _reachable(MY_HOST, MY_PORT):
        unavailable(f"MariaDB/MySQL at {MY_HOST}:{MY_PORT}")
    import pymysql

    conn = pymysql.connect(host=MY_HOST, port=MY_PORT, user=MY_USER, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    finally:
        conn.close()
    return mysql_admin_url(name)


def drop_mysql_database(name: str) -> None:
    import pymysql

    try:
        conn = pymysql.connect(host=MY_HOST, port=MY_PORT, user=MY_USER, autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
    except Exception:  # best effort at teardown
        pass

"""One dialect object per backend (design D13): pick it from a SQLAlchemy URL."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from airflow_sync.engine.dialects.base import Dialect


def _backend(url: URL) -> str:
    return url.get_backend_name()


def dialect_for(url: str | URL) -> Dialect:
    """The dialect for a SQLAlchemy URL: fast paths for SQLite, PostgreSQL, MySQL/MariaDB, else generic.

    :param url: ``sqlite:////abs/path.db``, ``postgresql+psycopg://...``, ``mysql+pymysql://...`` or any URL
        of an installed SQLAlchemy dialect
    """
    u = make_url(url) if isinstance(url, str) else url
    backend = _backend(u)
    if backend == "sqlite":
        from airflow_sync.engine.dialects.sqlite import SQLiteDialect

        return SQLiteDialect(u)
    if backend in ("postgresql", "postgres"):
        from airflow_sync.engine.dialects.postgres import PostgresDialect

        return PostgresDialect(u)
    if backend in ("mysql", "mariadb"):
        from airflow_sync.engine.dialects.mysql import MySQLDialect

        return MySQLDialect(u)
    from airflow_sync.engine.dialects.generic import GenericDialect

    return GenericDialect(u)


def supported_url(url: str | URL) -> bool:
    """True when the engine can replicate from/to this URL (its SQLAlchemy dialect and driver import)."""
    try:
        u = make_url(url) if isinstance(url, str) else url
        backend = _backend(u)
        if backend in ("sqlite", "postgresql", "postgres", "mysql", "mariadb"):
            return True
        u.get_dialect()
        return True
    except Exception:
        return False


__all__ = ["Dialect", "dialect_for", "supported_url"]

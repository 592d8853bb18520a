"""Airflow connections of a job, resolved in whatever process we run in.

* api-server, CLI, pytest, ``dag.test()``: no Task SDK comms channel, the ORM is allowed → the metadata DB
  and configured secrets backends (``airflow.models.Connection.get_connection_from_secrets``).
* dag-processor parse and task processes (supervised): the ORM is blocked → the Task SDK
  (``airflow.sdk.Connection.get``), which asks the execution API.

URLs built here carry passwords: never log them (use :func:`redacted_url` for messages).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: connection types with a built-in URL mapping (driver fixed: psycopg 3 and PyMySQL)
SQLITE_TYPES = frozenset({"sqlite"})
POSTGRES_TYPES = frozenset({"postgres", "postgresql"})
MYSQL_TYPES = frozenset({"mysql", "mariadb"})

_PG_QUERY_KEYS = ("sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "application_name", "options")
_MYSQL_QUERY_KEYS = ("charset", "ssl_ca", "ssl_cert", "ssl_key")


def under_supervisor() -> bool:
    """True in the dag-processor parse subprocess and in task processes (Task SDK comms channel)."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def get_connection(conn_id: str) -> Any:
    """The Airflow connection object, or raise ``AirflowNotFoundException``.

    :param conn_id: Airflow connection id
    """
    if under_supervisor():
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    from airflow.models import Connection as ConnectionModel

    return ConnectionModel.get_connection_from_secrets(conn_id)


#: connection_type() prefix for SQL connections outside the built-in types (see model.validate_connections)
GENERIC_MARKER = "dbapi:"
FAST_PATH_TYPES = SQLITE_TYPES | POSTGRES_TYPES | MYSQL_TYPES


def connection_type(conn_id: str) -> str | None:
    """What kind of connection ``conn_id`` is, for job validation; None when no such connection exists.

    * sqlite / postgres / postgresql / mysql / mariadb: the type itself (built-in URL mapping);
    * any other type whose hook is a ``DbApiHook`` with a SQLAlchemy URL of an installed dialect:
      ``dbapi:<type>`` (replicated through the hook's URL and the engine's generic dialect);
    * anything else (``http``, a provider that is not installed, a SQL hook without a usable URL): the
      plain type, which the job model refuses with a message naming it. Why it is not usable is logged.

    :param conn_id: Airflow connection id
    """
    from airflow.exceptions import AirflowNotFoundException

    if not conn_id:
        return None
    try:
        conn = get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    kind = (conn.conn_type or "").lower()
    if not kind or kind in FAST_PATH_TYPES:
        return kind or None
    problem = _generic_problem(conn)
    if problem:
        log.info("Connection %r of type %r cannot be replicated: %s", conn_id, kind, problem)
        return kind
    return GENERIC_MARKER + kind


def generic_problem(conn: Any) -> str | None:
    """Why a connection of a non-built-in type cannot be replicated, or None when it can.

    :param conn: an Airflow connection object
    """
    return _generic_problem(conn)


def _generic_problem(conn: Any) -> str | None:
    """Why a connection of a non-built-in type cannot be replicated, or None when it can."""
    from airflow_sync.engine.dialects import supported_url

    try:
        url = _generic_url(conn)
    except ValueError as exc:
        return str(exc)
    except Exception as exc:  # unknown type / provider not installed / hook refuses its own settings
        return f"its hook cannot be loaded ({type(exc).__name__})"
    if not supported_url(url):
        return "no installed SQLAlchemy dialect for its URL " + redacted_url(url)
    return None


def _extra(conn: Any) -> dict[str, Any]:
    try:
        value = conn.extra_dejson
    except Exception:  # malformed extra JSON: treat as none rather than leak it in an error
        return {}
    return value if isinstance(value, dict) else {}


def _sqlite_url(conn: Any) -> str:
    path = conn.host or conn.schema or ""
    if not path:
        raise ValueError(f"SQLite connection {conn.conn_id!r} has no database path in its host field")
    if path == ":memory:":
        return "sqlite://"
    return "sqlite:///" + os.path.abspath(os.path.expanduser(path))


def _mysql_hook_ssl(extra: dict[str, Any]) -> dict[str, str]:
    """MySqlHook's ``ssl`` extra (a dict or its JSON text with ``ca``, ``cert``, ``key``) as ``ssl_*``."""
    ssl = extra.get("ssl")
    if isinstance(ssl, str):
        try:
            ssl = json.loads(ssl)
        except ValueError:
            return {}
    if not isinstance(ssl, dict):
        return {}
    return {f"ssl_{k}": str(ssl[k]) for k in ("ca", "cert", "key") if ssl.get(k)}


def _server_url(conn: Any, drivername: str, query_keys: tuple[str, ...], defaults: dict[str, str]) -> str:
    from sqlalchemy.engine import URL

    extra = _extra(conn)
    if drivername.startswith("mysql"):
        extra = {**_mysql_hook_ssl(extra), **extra}
    query = dict(defaults)
    query.update({k: str(extra[k]) for k in query_keys if extra.get(k) not in (None, "")})
    url = URL.create(
        drivername,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=int(conn.port) if conn.port else None,
        database=conn.schema or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _generic_url(conn: Any) -> str:
    """The SQLAlchemy URL a DbApiHook builds for ``conn`` (this object, even when it is not stored yet)."""
    with _preset(conn):
        hook = conn.get_hook()
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        if not isinstance(hook, DbApiHook):
            raise ValueError(
                f"connection {conn.conn_id!r} of type {conn.conn_type!r} is not a SQL database connection"
            )
        try:
            url = hook.sqlalchemy_url
        except (NotImplementedError, AttributeError):
            return str(hook.get_uri())
        return url.render_as_string(hide_password=False) if hasattr(url, "render_as_string") else str(url)


@contextlib.contextmanager
def _preset(conn: Any) -> Iterator[None]:
    """Let hooks resolve ``conn.conn_id`` to ``conn`` itself while they are built and asked for a URL.

    Hooks look their connection up by id (some in their constructor), through the Task SDK's lookup; outside
    a task that lookup does not reach the metadata DB, and a connection the API is about to create is in no
    store yet. Airflow's own ``Connection.test_connection`` presets the connection the same way.
    """
    try:
        from airflow.sdk import Connection as SdkConnection
        from airflow.sdk.execution_time.context import _preset_connections
    except ImportError:  # pragma: no cover - a Task SDK without the preset: hooks look it up themselves
        yield
        return
    if not isinstance(conn, SdkConnection):
        conn = SdkConnection(
            conn_id=conn.conn_id,
            conn_type=conn.conn_type,
            description=conn.description,
            host=conn.host,
            schema=conn.schema,
            login=conn.login,
            password=conn.password,
            port=conn.port,
            extra=conn.extra,
        )
    outer = _preset_connections.get() or {}
    token = _preset_connections.set({**outer, conn.conn_id: conn})
    try:
        yield
    finally:
        _preset_connections.reset(token)


def sqlalchemy_url(conn_id: str) -> str:
    """SQLAlchemy URL (with credentials) for an Airflow connection.

    sqlite → ``sqlite:////abs/path`` (the host field holds the path), postgres → ``postgresql+psycopg://``,
    mysql/mariadb → ``mysql+pymysql://`` (charset utf8mb4 unless the extra sets one); any other type whose
    hook is a ``DbApiHook`` → the hook's own SQLAlchemy URL.

    :param conn_id: Airflow connection id
    :raises airflow.exceptions.AirflowNotFoundException: no such connection
    :raises ValueError: the connection is not a SQL database
    """
    conn = get_connection(conn_id)
    kind = (conn.conn_type or "").lower()
    if kind in SQLITE_TYPES:
        return _sqlite_url(conn)
    if kind in POSTGRES_TYPES:
        return _server_url(conn, "postgresql+psycopg", _PG_QUERY_KEYS, {})
    if kind in MYSQL_TYPES:
        return _server_url(conn, "mysql+pymysql", _MYSQL_QUERY_KEYS, {"charset": "utf8mb4"})
    return _generic_url(conn)


def redacted_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs).

    :param url: a SQLAlchemy URL string
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"

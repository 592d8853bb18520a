"""Talk to the database behind a connection: testConnection, getConnectionTables, getConnectionTableColumns.

Every call connects with the engine's own driver and dialect (psycopg 3, PyMySQL, sqlite3, or SQLAlchemy for
generic types) — the same code path a replication takes — bounded by a timeout: libpq's
``connect_timeout``, the dialect's statement timeout, and a deadline on the worker thread, so a request
never waits longer than asked even when a driver ignores its own limits. SQLite files are opened read-only
and never created.

Driver messages are scrubbed of the connection's secrets before they reach a response or a log line.
Identifiers are never pasted into SQL: catalog queries take them as parameters, and reflection goes
through the dialect's quoting.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from airflow_sync.api.errors import ApiError
from airflow_sync.api.services.connstring import scrub_text

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = 15
MAX_TIMEOUT = 300
#: the engine's own bookkeeping tables in a destination: not something to replicate
_INTERNAL = re.compile(r"^(_airflow_sync_state$|_as_stage_)", re.IGNORECASE)
_PG_SYSTEM = ("pg_catalog", "information_schema")
_MYSQL_SYSTEM = ("mysql", "information_schema", "performance_schema", "sys")


@dataclass
class Source:
    """An open connection to the database behind an Airflow connection."""

    backend: str  # sqlite | postgresql | mysql | generic
    dialect: Any
    conn: Any
    secrets: tuple[str, ...]


@dataclass
class TestOutcome:
    """What :func:`test_connection` found."""

    ok: bool
    message: str
    server_version: str | None
    seconds: float


class BrowseError(Exception):
    """The database could not be reached or answered with an error (message already scrubbed)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timeout = timeout


# --------------------------------------------------------------------------------------------- deadline


def with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` on a daemon thread, abandoned after ``seconds`` (the driver's own timeouts end it later).

    :raises BrowseError: with ``timeout=True`` when the deadline passes
    """
    box: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            box.set_result(fn())
        except BaseException as exc:
            box.set_exception(exc)

    threading.Thread(target=run, name="airflow-sync-browse", daemon=True).start()
    try:
        return box.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise BrowseError(f"{what} did not answer within {seconds:g} s", timeout=True) from None


# ----------------------------------------------------------------------------------------------- connect


def _secrets(url: Any) -> tuple[str, ...]:
    """The password and every secret-like query value of a URL (``motherduck_token``, ``sslpassword``)."""
    from airflow_sync.api.services.connstring import is_secret_key

    values = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        for v in value if isinstance(value, tuple) else (value,):
            if v and is_secret_key(key):
                values.append(str(v))
    return tuple(values)


def open_source(conn_id: str, timeout: int) -> Source:
    """Connect to the database of ``conn_id`` with the engine's driver (read-only for SQLite files).

    :raises BrowseError: the connection cannot be opened (message scrubbed)
    """
    from sqlalchemy.engine import make_url

    from airflow_sync.engine.dialects import dialect_for
    from airflow_sync.jobs.connections import sqlalchemy_url

    try:
        url = make_url(sqlalchemy_url(conn_id))
    except Exception as exc:
        raise BrowseError(
            f"the connection cannot be turned into a database URL ({type(exc).__name__})"
        ) from None
    secrets = _secrets(url)
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            return Source("sqlite", dialect_for(url), _sqlite_readonly(url.database or "", timeout), secrets)
        if backend in ("postgresql", "postgres"):
            url = url.update_query_dict({"connect_timeout": str(max(timeout, 2))})
            dialect = dialect_for(url)
            conn = dialect.connect()
            source = Source("postgresql", dialect, conn, secrets)
        elif backend in ("mysql", "mariadb"):
            dialect = dialect_for(url)
            conn = dialect.connect()
            source = Source("mysql", dialect, conn, secrets)
        else:
            dialect = dialect_for(url)
            conn = dialect.connect()
            return Source("generic", dialect, conn, secrets)
        dialect.set_timeout(conn, timeout)
        return source
    except BrowseError:
        raise
    except Exception as exc:
        raise BrowseError(driver_message(exc, secrets)) from None


def _sqlite_readonly(path: str, timeout: int) -> sqlite3.Connection:
    if not path or path == ":memory:":
        raise BrowseError("the SQLite connection has no database file")
    if not os.path.isfile(path):
        raise BrowseError(f"the SQLite database file {path} does not exist")
    return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)


def close(source: Source) -> None:
    """Roll back whatever the session started and close it (errors ignored: it may be gone)."""
    try:
        source.dialect.rollback(source.conn)
    finally:
        source.dialect.close(source.conn)


def driver_message(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """A driver error as one scrubbed line (type and first line of its text, at most 500 characters)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = scrub_text(text, secrets)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def _run(conn_id: str, timeout: int, what: str, fn: Callable[[Source], T]) -> T:
    """Open, run ``fn``, close — all under one deadline."""

    def work() -> T:
        source = open_source(conn_id, timeout)
        try:
            return fn(source)
        except BrowseError:
            raise
        except Exception as exc:
            raise BrowseError(driver_message(exc, source.secrets)) from None
        finally:
            close(source)

    try:
        return with_deadline(work, timeout + 1, what)
    except BrowseError as exc:  # the message is scrubbed already
        log.info("Connection %s: %s", conn_id, exc.message)
        raise


def to_api_error(conn_id: str, exc: BrowseError) -> ApiError:
    """A browse failure as a 400 in the envelope naming the connection."""
    code = "ConnectionTimeout" if exc.timeout else "ConnectionFailed"
    return ApiError(400, code, f"Connection {conn_id!r}: {exc.message}.", target="ConnectionName")


# ---------------------------------------------------------------------------------------------- test


def _server_version(source: Source) -> str:
    d, c = source.dialect, source.conn
    if source.backend == "sqlite":
        return f"SQLite {d.scalar(c, 'SELECT sqlite_version()')}"
    if source.backend == "postgresql":
        return f"PostgreSQL {d.scalar(c, 'SHOW server_version')}"
    if source.backend == "mysql":
        version = str(d.scalar(c, "SELECT VERSION()"))
        return f"MariaDB {version}" if "mariadb" in version.lower() else f"MySQL {version}"
    info = getattr(d.sa, "server_version_info", None)
    name = d.sa.name
    return f"{name} {'.'.join(str(p) for p in info)}" if info else name


def _probe(source: Source) -> str:
    if source.backend == "generic":
        raw = getattr(source.conn, "dbapi_connection", source.conn)
        source.dialect.sa.do_ping(raw)
    else:
        value = source.dialect.scalar(source.conn, "SELECT 1")
        if str(value) != "1":
            raise BrowseError(f"the trivial query returned {value!r} instead of 1")
    return _server_version(source)


def test_connection(conn_id: str, timeout: int = DEFAULT_TIMEOUT) -> TestOutcome:
    """Connect, run a trivial query and read the server version, within ``timeout`` seconds."""
    started = time.monotonic()
    try:
        version = _run(conn_id, timeout, "the database", _probe)
    except BrowseError as exc:
        seconds = time.monotonic() - started
        log.info("testConnection %s failed after %.2f s", conn_id, seconds)
        return TestOutcome(False, exc.message, None, seconds)
    seconds = time.monotonic() - started
    log.info("testConnection %s succeeded in %.2f s (%s)", conn_id, seconds, version)
    return TestOutcome(True, f"Connected to {version}", version, seconds)


# -------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableRow:
    catalog: str | None
    schema: str | None
    name: str
    type: str  # TABLE | VIEW


def _pg_tables(source: Source, schema: str | None) -> list[TableRow]:
    sql = (
        "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND table_schema NOT LIKE 'pg\\_toast%%' AND table_schema NOT LIKE 'pg\\_temp\\_%%'"
    )
    params: tuple[Any, ...] = ()
    if schema is not None:
        sql += " AND table_schema = %s"
        params = (schema,)
    return [
        TableRow(cat, sch, name, "VIEW" if kind == "VIEW" else "TABLE")
        for cat, sch, name, kind in _fetch(source, sql + " ORDER BY 2, 3", params)
    ]


def _mysql_tables(source: Source, schema: str | None) -> list[TableRow]:
    sql = (
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
        "WHERE TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') "
    )
    if schema is not None:
        sql += "AND TABLE_SCHEMA = %s"
        params: tuple[Any, ...] = (schema,)
    else:  # the connection's database, or every non-system one when it names none
        sql += (
            "AND (TABLE_SCHEMA = DATABASE() OR (DATABASE() IS NULL AND TABLE_SCHEMA NOT IN (%s, %s, %s, %s)))"
        )
        params = _MYSQL_SYSTEM
    return [
        TableRow(sch, sch, name, "VIEW" if kind == "VIEW" else "TABLE")
        for sch, name, kind in _fetch(source, sql + " ORDER BY 1, 2", params)
    ]


def _sqlite_tables(source: Source, schema: str | None) -> list[TableRow]:
    if schema is not None and schema.lower() != "main":
        return []
    rows = _fetch(
        source,
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name",
        (),
    )
    return [TableRow(None, "main", name, "VIEW" if kind == "view" else "TABLE") for name, kind in rows]


def _generic_tables(source: Source, schema: str | None) -> list[TableRow]:
    import sqlalchemy as sa

    insp = sa.inspect(source.dialect.engine)
    schemas = [schema] if schema is not None else [insp.default_schema_name]
    out = []
    for sch in schemas:
        out += [TableRow(None, sch, n, "TABLE") for n in insp.get_table_names(schema=sch)]
        out += [TableRow(None, sch, n, "VIEW") for n in insp.get_view_names(schema=sch)]
    return sorted(out, key=lambda r: (r.schema or "", r.name))


def _fetch(source: Source, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cur = source.conn.cursor()
    try:
        cur.execute(sql, params) if params else cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


_TABLE_LISTERS: dict[str, Callable[[Source, str | None], list[TableRow]]] = {
    "postgresql": _pg_tables,
    "mysql": _mysql_tables,
    "sqlite": _sqlite_tables,
    "generic": _generic_tables,
}


def list_tables(conn_id: str, *, schema: str | None, timeout: int = DEFAULT_TIMEOUT) -> list[TableRow]:
    """Tables and views of the database (system schemas and the engine's bookkeeping tables left out).

    :param schema: only this schema (PostgreSQL schema, MySQL database, SQLite ``main``); None = the
        connection's database (MySQL) / every user schema (PostgreSQL)
    :raises BrowseError: cannot connect, or the catalog query failed
    """

    def fn(source: Source) -> list[TableRow]:
        return [r for r in _TABLE_LISTERS[source.backend](source, schema) if not _INTERNAL.match(r.name)]

    return _run(conn_id, timeout, "the database", fn)


# ------------------------------------------------------------------------------------------- columns

_QUOTED = re.compile(r'\[((?:[^\]]|\]\])*)\]|"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^.\[\]"`]+)')


def split_table_name(text: str) -> list[str]:
    """The parts of a possibly qualified table name: ``[s].[t]``, ``"s"."t"``, ```s`.`t```, ``s.t``, ``t``.

    :raises ValueError: an empty name or stray characters
    """
    parts: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _QUOTED.match(text, pos)
        if not m:
            raise ValueError(f"unexpected {text[pos]!r} at position {pos}")
        br, dq, bt, bare = m.groups()
        part = (
            br.replace("]]", "]") if br is not None
            else dq.replace('""', '"') if dq is not None
            else bt.replace("``", "`") if bt is not None
            else bare.strip()
        )  # fmt: skip
        parts.append(part)
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise ValueError(f"expected '.' at position {pos}")
            pos += 1
            if pos == len(text):
                raise ValueError("the name ends with '.'")
    if not parts or any(not p for p in parts):
        raise ValueError("the name is empty")
    return parts


@dataclass(frozen=True)
class ColumnRow:
    name: str
    data_type: str
    nullable: bool
    max_length: int | None
    precision: int | None
    scale: int | None
    primary_key: bool


def _base_type(native: str, fallback: str) -> str:
    text = re.sub(r"\([^)]*\)", "", native or "").strip()
    return re.sub(r"\s+", " ", text) if text else fallback


def _columns_of(table: Any) -> list[ColumnRow]:
    out = []
    pk = {p.lower() for p in table.primary_key}
    for col in table.columns:
        t = col.type
        out.append(
            ColumnRow(
                name=col.name,
                data_type=_base_type(col.native, t.kind),
                nullable=bool(col.nullable) and col.name.lower() not in pk,
                max_length=t.length if t.kind in ("string", "binary") else None,
                precision=t.precision if t.kind == "decimal" else None,
                scale=t.scale if t.kind == "decimal" else None,
                primary_key=col.name.lower() in pk,
            )
        )
    return out


def list_columns(conn_id: str, table: str, *, timeout: int = DEFAULT_TIMEOUT) -> list[ColumnRow] | None:
    """Columns of ``table`` as the engine reflects them (the types a replication will see), or None when
    the table does not exist.

    An unquoted dotted name is tried whole first (SQLite tables may contain dots), then as ``schema.table``.

    :raises ValueError: a malformed name
    :raises BrowseError: cannot connect or reflect
    """
    parts = split_table_name(table)
    if len(parts) > 2:
        parts = [parts[-2], parts[-1]]  # catalog.schema.table: the catalog is the connection's database
    candidates: list[tuple[str | None, str]] = []
    if len(parts) == 1:
        candidates.append((None, parts[0]))
    else:
        if not re.search(r'[\[\]"`]', table):
            candidates.append((None, table.strip()))
        candidates.append((parts[0], parts[1]))

    def fn(source: Source) -> list[ColumnRow] | None:
        for schema, name in candidates:
            if source.backend == "sqlite" and schema is not None and schema.lower() != "main":
                continue
            found = source.dialect.reflect(source.conn, schema, name)
            if found is not None:
                return _columns_of(found)
        return None

    return _run(conn_id, timeout, "the database", fn)

"""The ``connections`` entity set: CData's view of Airflow's connection store, and its editor.

Airflow's connections stay the only store. The metadata DB's connections are listed and editable;
connections that Airflow resolves from environment variables (``AIRFLOW_CONN_*``) or a local secrets file
are listed read-only (other secrets backends cannot be listed; their connections still resolve by name in
jobs and in the browse actions). An id defined both ways shows the one Airflow resolves first (the
environment or file), read-only. Only connection types the engine can replicate are shown: SQLite,
PostgreSQL, MySQL/MariaDB and SQL types whose hook is a ``DbApiHook`` with an installed SQLAlchemy dialect.

Secrets never leave: the ``ConnectionString`` of every entity is rendered by
:func:`airflow_sync.api.services.connstring.render_connection`, which masks the password and every
secret-like extra. Test outcomes live in airflow_sync's own ``airflow_sync_connection_state`` table.

Authorization: API tokens read with any role and write with ``admin``; Airflow users are asked to the
auth manager's ``is_authorized_connection`` (GET to read, POST/PUT/DELETE to write).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow_sync.api.errors import ApiError
from airflow_sync.api.services import connstring
from airflow_sync.api.services.common import iso, wire_str

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.api.auth import Principal

log = logging.getLogger(__name__)

Origin = Literal["metastore", "environment", "secrets file", "secrets backend"]
Method = Literal["GET", "POST", "PUT", "DELETE"]

#: names a connection may get through the API: the job-name alphabet (keys stay routable in ``conn(...)``)
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}")
_ENV_PREFIX = "AIRFLOW_CONN_"
UNTESTED = "Untested"


@dataclass
class ConnRecord:
    """One connection as Airflow resolves it, with where it comes from."""

    conn_id: str
    conn: Any
    origin: Origin

    @property
    def read_only(self) -> bool:
        return self.origin != "metastore"


# ----------------------------------------------------------------------------------------- authorization


def allowed(principal: Principal, method: Method, conn_id: str | None) -> bool:
    """Whether ``principal`` may ``method`` the connection ``conn_id`` (None = the collection)."""
    if principal.kind == "token":
        return principal.allowed("read" if method == "GET" else "admin", None)
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    details = ConnectionDetails(conn_id=conn_id) if conn_id else None
    return bool(
        get_auth_manager().is_authorized_connection(method=method, details=details, user=principal.user)
    )


def authorize(principal: Principal, method: Method, conn_id: str | None) -> None:
    """403 in the envelope unless :func:`allowed`."""
    if allowed(principal, method, conn_id):
        return
    who = (
        f"token {principal.name!r} (role {principal.role})"
        if principal.kind == "token"
        else (f"user {principal.name!r}")
    )
    what = {"GET": "read", "POST": "create", "PUT": "modify", "DELETE": "delete"}[method]
    target = f"connection {conn_id!r}" if conn_id else "connections"
    hint = " (an admin token or an Airflow user allowed to edit connections)" if method != "GET" else ""
    raise ApiError(403, "Forbidden", f"{who} may not {what} {target}{hint}.")


# ------------------------------------------------------------------------------------------------ lookup


@functools.cache
def _dbapi_type(conn_type: str) -> bool:
    """Whether Airflow's hook for ``conn_type`` is a DbApiHook (class check only, no hook is built)."""
    import importlib

    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.providers_manager import ProvidersManager

        info = ProvidersManager().hooks.get(conn_type)
        if info is None:
            return False
        module, _, name = info.hook_class_name.rpartition(".")
        return issubclass(getattr(importlib.import_module(module), name), DbApiHook)
    except Exception:  # a provider that fails to import is simply not usable
        return False


def usable_kind(conn: Any) -> str | None:
    """The connection's type when the engine can replicate it (built-in or generic SQL), else None."""
    from airflow_sync.jobs.connections import FAST_PATH_TYPES, generic_problem

    kind = (conn.conn_type or "").lower()
    if kind in FAST_PATH_TYPES:
        return kind
    if not kind or not _dbapi_type(kind):
        return None
    problem = generic_problem(conn)
    if problem:
        problem = connstring.scrub_text(problem, connstring.secret_values(conn, _extra(conn)))
        log.debug("Connection %r (%s) not listed: %s", conn.conn_id, kind, problem)
        return None
    return kind


def _env_records() -> list[ConnRecord]:
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    backend = EnvironmentVariablesBackend()
    out = []
    for key in sorted(os.environ):
        if not key.startswith(_ENV_PREFIX) or key.startswith(_ENV_PREFIX + "_"):
            continue  # AIRFLOW_CONN__<TEAM>___<ID> is team-scoped
        conn_id = key[len(_ENV_PREFIX) :].lower()
        try:
            conn = backend.get_connection(conn_id)
        except Exception as exc:  # a malformed value is Airflow's problem; never echo it (it has secrets)
            log.warning("Environment connection %s cannot be read: %s", key, type(exc).__name__)
            continue
        if conn is not None:
            out.append(ConnRecord(conn_id, conn, "environment"))
    return out


def _file_records() -> list[ConnRecord]:
    from airflow.configuration import ensure_secrets_loaded
    from airflow.secrets.local_filesystem import LocalFilesystemBackend

    out: list[ConnRecord] = []
    for backend in ensure_secrets_loaded():
        if isinstance(backend, LocalFilesystemBackend):
            try:
                conns = backend._local_connections  # the file's parsed connections; no listing API exists
            except Exception as exc:
                log.warning("Secrets file connections cannot be read: %s", type(exc).__name__)
                continue
            out.extend(ConnRecord(cid, c, "secrets file") for cid, c in sorted(conns.items()))
    return out


def _db_records(session: Session, conn_id: str | None = None) -> list[ConnRecord]:
    from airflow.models.connection import Connection
    from sqlalchemy import select

    stmt = select(Connection).order_by(Connection.conn_id)
    if conn_id is not None:
        stmt = stmt.where(Connection.conn_id == conn_id)
    return [ConnRecord(c.conn_id, c, "metastore") for c in session.scalars(stmt)]


def all_records(*, session: Session) -> list[ConnRecord]:
    """Every usable connection Airflow can list, the resolving one per id, sorted by id."""
    chosen: dict[str, ConnRecord] = {}
    for record in (*_env_records(), *_file_records(), *_db_records(session)):
        chosen.setdefault(record.conn_id, record)  # Airflow's search order: env, secrets, metastore
    return [r for _, r in sorted(chosen.items()) if usable_kind(r.conn) is not None]


def find_record(name: str, *, session: Session) -> ConnRecord:
    """The usable connection called ``name``, as Airflow resolves it (its own secrets search order).

    Connections of a secrets backend that cannot be listed are found too (read-only).

    :raises ApiError: 404 when Airflow has no such connection or it is not a SQL database
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(name)
    except AirflowNotFoundException:
        raise ApiError(
            404, "ConnectionNotFound", f"Connection {name!r} does not exist.", target="Name"
        ) from None
    record = ConnRecord(name, conn, origin_of(name, session=session) or "secrets backend")
    if record.origin == "metastore":  # the session's own row, so a write in this transaction shows
        record = _db_records(session, name)[0]
    if usable_kind(record.conn) is None:
        raise ApiError(
            404,
            "ConnectionNotFound",
            f"Connection {name!r} (type {record.conn.conn_type!r}) is not a database the engine can "
            "replicate.",
            target="Name",
        )
    return record


def origin_of(name: str, *, session: Session) -> Origin | None:
    """Where Airflow's search (environment, secrets backends, metastore) finds ``name`` first; None when
    nowhere."""
    if os.environ.get(_ENV_PREFIX + name.upper()):
        return "environment"
    if any(r.conn_id == name for r in _file_records()):
        return "secrets file"
    from airflow.configuration import ensure_secrets_loaded
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend
    from airflow.secrets.local_filesystem import LocalFilesystemBackend
    from airflow.secrets.metastore import MetastoreBackend

    for backend in ensure_secrets_loaded():
        if isinstance(backend, MetastoreBackend):
            break
        if isinstance(backend, EnvironmentVariablesBackend | LocalFilesystemBackend):
            continue
        try:
            if backend.get_connection(name) is not None:
                return "secrets backend"
        except Exception:  # an unreachable backend: Airflow would fall through to the next one too
            continue
    return "metastore" if _db_records(session, name) else None


# ----------------------------------------------------------------------------------------------- entities


def _states(conn_ids: Iterable[str], *, session: Session) -> dict[str, Any]:
    from sqlalchemy import select

    from airflow_sync.db.models import ConnectionState

    ids = list(conn_ids)
    if not ids:
        return {}
    rows = session.scalars(select(ConnectionState).where(ConnectionState.conn_id.in_(ids)))
    return {row.conn_id: row for row in rows}


def _extra(conn: Any) -> dict[str, Any]:
    try:
        value = conn.extra_dejson
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


def entity(record: ConnRecord, state: Any, principal: Principal) -> dict[str, Any]:
    """The wire entity of one connection (secrets masked)."""
    conn = record.conn
    kind = (conn.conn_type or "").lower()
    provider = connstring.BY_CONN_TYPE.get(kind)
    writable = not record.read_only
    return {
        "Name": record.conn_id,
        "ProviderName": connstring.provider_name(kind),
        "ConnectionType": kind,
        "ConnectionString": connstring.render_connection(conn, provider=provider, extra=_extra(conn)),
        "ConnectionState": state.state if state is not None else UNTESTED,
        "LastTested": iso(state.last_tested) if state is not None else None,
        "Origin": record.origin,
        "Description": conn.description or "",
        "CanUpdate": wire_str(writable and allowed(principal, "PUT", record.conn_id)),
        "CanRemove": wire_str(writable and allowed(principal, "DELETE", record.conn_id)),
    }


def list_entities(principal: Principal, *, session: Session) -> list[dict[str, Any]]:
    """Every usable connection the caller may read, as wire entities."""
    authorize(principal, "GET", None)
    records = [r for r in all_records(session=session) if allowed(principal, "GET", r.conn_id)]
    states = _states((r.conn_id for r in records), session=session)
    return [entity(r, states.get(r.conn_id), principal) for r in records]


def stored_entity(conn: Any, principal: Principal, *, session: Session) -> dict[str, Any]:
    """The entity of a metadata-DB connection just written in this transaction (Airflow's own lookup
    would not see it before the commit)."""
    record = ConnRecord(conn.conn_id, conn, "metastore")
    return entity(record, _states([conn.conn_id], session=session).get(conn.conn_id), principal)


def get_entity(name: str, principal: Principal, *, session: Session) -> dict[str, Any]:
    """One connection as a wire entity (404 when absent, 403 when not readable)."""
    authorize(principal, "GET", name)
    record = find_record(name, session=session)
    return entity(record, _states([record.conn_id], session=session).get(record.conn_id), principal)


# ------------------------------------------------------------------------------------------------- state


def record_state(
    conn_id: str, *, ok: bool, message: str, server_version: str | None, session: Session
) -> datetime:
    """Store a test's outcome (one row per connection, replaced by each test); returns its time."""
    from airflow_sync.db.models import ConnectionState

    now = datetime.now(UTC)
    row = session.get(ConnectionState, conn_id)
    if row is None:
        row = ConnectionState(conn_id=conn_id)
        session.add(row)
    row.state = "Tested" if ok else "Failed"
    row.last_tested = now
    row.message = message[:1000]
    row.server_version = (server_version or None) and server_version[:200]
    return now


def forget_state(conn_id: str, *, session: Session) -> None:
    """Drop a connection's test outcome (it was changed or deleted: the old outcome no longer holds)."""
    from sqlalchemy import delete

    from airflow_sync.db.models import ConnectionState

    session.execute(delete(ConnectionState).where(ConnectionState.conn_id == conn_id))


# ---------------------------------------------------------------------------------------- job references


def referencing_jobs(conn_id: str, *, session: Session) -> list[Any]:
    """Jobs whose Source or Destination is ``conn_id`` (compared case-insensitively, to err on the safe
    side: some metadata DBs compare connection ids without case)."""
    from airflow_sync.jobs import store

    low = conn_id.lower()
    return [j for j in store.list_jobs(session=session) if low in (j.source.lower(), j.destination.lower())]


def names(jobs: Iterable[Any], limit: int = 20) -> str:
    """``'a', 'b'`` (and how many more) for messages."""
    listed = [j.name for j in jobs]
    text = ", ".join(repr(n) for n in listed[:limit])
    return text + (f" and {len(listed) - limit} more" if len(listed) > limit else "")

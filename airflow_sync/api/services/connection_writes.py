"""Create, modify and delete Airflow connections from CData bodies (connections-tasks spec).

Only connections stored in the metadata DB are written; one defined by an environment variable or a
secrets backend is read-only here (409), because Airflow would keep resolving that definition whatever the
DB says. Each write runs in the caller's transaction: a refused request changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from airflow_sync.api.errors import ApiError
from airflow_sync.api.services import connections as service
from airflow_sync.api.services import connstring
from airflow_sync.api.services.connstring import ConnectionStringError, ConnFields, Provider

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.api.connection_models import ConnectionBody, ConnectionPatchBody

log = logging.getLogger(__name__)

_SUPPORTED = "PostgreSQL, MySQL, MariaDB, SQLite, or the Airflow connection type of an installed SQL provider"


# -------------------------------------------------------------------------------------------- helpers


def _provider(name: str) -> tuple[Provider | None, str]:
    """(built-in provider or None, Airflow connection type) for a ProviderName; 400 when unusable."""
    provider = connstring.provider_for(name)
    if provider is not None:
        return provider, provider.conn_type
    conn_type = name.strip().lower()
    if conn_type and service._dbapi_type(conn_type):
        return None, conn_type
    raise ApiError(
        400,
        "UnsupportedProvider",
        f"ProviderName {name!r} is not supported: use {_SUPPORTED}.",
        target="ProviderName",
    )


def _defined_outside(name: str, *, session: Session) -> str | None:
    """Where Airflow finds ``name`` before the metadata DB (an environment variable, a secrets file or
    backend), or None."""
    origin = service.origin_of(name, session=session)
    if origin is None or origin == "metastore":
        return None
    if origin == "environment":
        return f"the environment variable AIRFLOW_CONN_{name.upper()}"
    return f"a {origin}"


def _db_row(name: str, *, session: Session, lock: bool) -> Any:
    from airflow.models.connection import Connection
    from sqlalchemy import select

    stmt = select(Connection).where(Connection.conn_id == name)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def _writable_row(name: str, *, session: Session) -> Any:
    """The DB row of ``name``, locked; 409 when Airflow resolves ``name`` elsewhere, 404 when absent."""
    from airflow_sync.jobs.store import begin_write

    begin_write(session)
    outside = _defined_outside(name, session=session)
    row = _db_row(name, session=session, lock=True)
    if outside is not None:
        raise ApiError(
            409,
            "ConnectionReadOnly",
            f"Connection {name!r} is defined by {outside}, which Airflow reads first; change it there.",
            target="Name",
        )
    if row is None:
        raise ApiError(404, "ConnectionNotFound", f"Connection {name!r} does not exist.", target="Name")
    return row


def _check_complete(conn: Any, provider: Provider | None) -> None:
    """A connection that names where its database is (absolute SQLite path, a server host)."""
    if provider is connstring.SQLITE:
        path = conn.host or ""
        if not path:
            raise ConnectionStringError(
                "ConnectionString: Database (the SQLite file path) is required", field="Database"
            )
        if path == ":memory:" or not os.path.isabs(os.path.expanduser(path)):
            raise ConnectionStringError(
                f"ConnectionString: Database must be an absolute file path (every Airflow process must find "
                f"the same file), got {path!r}",
                field="Database",
            )
    elif not conn.host and provider is not None:
        raise ConnectionStringError("ConnectionString: Server is required", field="Server")
    elif provider is None:
        from airflow_sync.jobs.connections import generic_problem

        problem = generic_problem(conn)
        if problem:
            problem = connstring.scrub_text(problem, connstring.secret_values(conn, service._extra(conn)))
            raise ApiError(
                400,
                "UnsupportedProvider",
                f"A {conn.conn_type} connection built from this ConnectionString cannot be used: {problem}.",
                target="ConnectionString",
            )


def _apply(conn: Any, fields: ConnFields) -> None:
    for target in ("host", "port", "schema", "login", "password"):
        if target in fields.unchanged:
            continue
        value = getattr(fields, target)
        if value is not None:
            setattr(conn, target, value if value != "" else None)
    if fields.extra:
        extra = service._extra(conn) if conn.extra else {}
        for name, value in fields.extra.items():
            if value == "":
                extra.pop(name, None)
            else:
                extra[name] = value
        conn.extra = json.dumps(extra, sort_keys=True) if extra else None


# --------------------------------------------------------------------------------------------- writes


def create(body: ConnectionBody, *, session: Session) -> Any:
    """Create the Airflow connection ``body.Name`` in the metadata DB.

    :returns: the new connection row (not committed yet: the caller's transaction commits it)
    :raises ApiError: 400 unusable provider or key, 409 the name exists (anywhere Airflow looks)
    :raises ConnectionStringError: 400 naming the key
    """
    from airflow.models.connection import Connection
    from sqlalchemy.exc import IntegrityError

    from airflow_sync.jobs.store import begin_write

    name = body.Name
    provider, conn_type = _provider(body.ProviderName)
    fields = connstring.to_fields(connstring.parse(body.ConnectionString), provider, conn_type)
    if fields.unchanged:
        raise ConnectionStringError(
            f"ConnectionString: {connstring.MASK} is the mask of a stored secret; send the real value",
            field="ConnectionString",
        )
    begin_write(session)
    if _db_row(name, session=session, lock=False) is not None:
        raise ApiError(409, "ConnectionExists", f"Connection {name!r} already exists.", target="Name")
    outside = _defined_outside(name, session=session)
    if outside is not None:
        raise ApiError(
            409, "ConnectionExists", f"Connection {name!r} already exists in {outside}.", target="Name"
        )
    conn = Connection(conn_id=name, conn_type=conn_type, description=body.Description or None)
    _apply(conn, fields)
    _check_complete(conn, provider)
    try:
        with session.begin_nested():  # a concurrent create of the same name fails here, not at commit
            session.add(conn)
    except IntegrityError:
        raise ApiError(
            409, "ConnectionExists", f"Connection {name!r} already exists.", target="Name"
        ) from None
    service.forget_state(name, session=session)  # a row left by a connection deleted outside the API
    log.info("Created connection %s (type %s)", name, conn_type)
    return conn


def _refuse_while_running(name: str, *, session: Session) -> None:
    from airflow_sync.api.services.common import dag_id_for, lock_dag
    from airflow_sync.jobs import store

    running = []
    for job in service.referencing_jobs(name, session=session):
        dag_id = dag_id_for(job.name)
        lock_dag(dag_id, session=session)  # an executeJob of that job waits for this change, or wins first
        if store.job_is_running(dag_id, session=session):
            running.append(job)
    if running:
        raise ApiError(
            409,
            "JobRunning",
            f"Connection {name!r} is used by running job(s) {service.names(running)}; modify it after they "
            "end or cancel them.",
            target="Name",
        )


def modify(name: str, body: ConnectionPatchBody, *, session: Session) -> Any:
    """Change the keys given in ``body.ConnectionString`` (and the description) of a DB connection.

    :returns: the modified connection row
    :raises ApiError: 404 absent, 409 read-only or used by a running job, 400 bad keys
    """
    row = _writable_row(name, session=session)
    kind = (row.conn_type or "").lower()
    provider = connstring.BY_CONN_TYPE.get(kind)
    if body.Name is not None and body.Name != name:
        raise ApiError(400, "InvalidParameter", f"Name cannot be changed (this is {name!r}).", target="Name")
    if body.ProviderName is not None and body.ProviderName.strip():
        sent, _ = _provider(body.ProviderName)
        if (sent.conn_type if sent else body.ProviderName.strip().lower()) != (
            provider.conn_type if provider else kind
        ):
            raise ApiError(
                400,
                "InvalidParameter",
                f"ProviderName cannot be changed (this is a {connstring.provider_name(kind)} "
                "connection); create a new connection instead.",
                target="ProviderName",
            )
    _refuse_while_running(name, session=session)
    changed = False
    if body.ConnectionString is not None:
        fields = connstring.to_fields(connstring.parse(body.ConnectionString), provider, kind)
        _apply(row, fields)
        changed = bool(fields.targets() - fields.unchanged)
    if body.Description is not None:
        row.description = body.Description or None
    _check_complete(row, provider)
    if changed:
        service.forget_state(name, session=session)  # the last test was of other settings
    log.info("Modified connection %s", name)
    return row


def delete(name: str, *, session: Session) -> None:
    """Delete a DB connection that no job references.

    :raises ApiError: 404 absent, 409 read-only or referenced by jobs (named)
    """
    row = _writable_row(name, session=session)
    jobs = service.referencing_jobs(name, session=session)
    if jobs:
        raise ApiError(
            409,
            "ConnectionInUse",
            f"Connection {name!r} is used by job(s) {service.names(jobs)}; change or delete those jobs "
            "first.",
            target="Name",
        )
    session.delete(row)
    service.forget_state(name, session=session)
    log.info("Deleted connection %s", name)

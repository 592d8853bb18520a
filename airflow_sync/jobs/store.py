"""The job store: one Airflow Variable per job (design D3), key ``airflow_sync.job.<JobName>``.

The value is ``Job.to_store()`` as JSON (normalized, with a ``version`` hash). Reads go through the Task SDK
when this process is supervised (dag-processor parse, task processes: the ORM is blocked there) and through
the metadata DB otherwise (api-server, CLI, pytest, ``dag.test()``) — design D5.

Writes (create / update / delete) happen in one DB transaction together with a priority parse request for
the DAG shim (design D6), so a new or changed job turns into a DAG within about a second. Updates lock the
job's Variable row first and compare versions, so two concurrent writers never silently lose an update.

Functions taking ``session`` use the caller's session and leave committing to the caller (the API's
``SessionDep`` commits when the request succeeds); without one they open and commit their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow_sync.exceptions import (
    JobConflictError,
    JobExistsError,
    JobNotFoundError,
    JobRunningError,
    JobValidationError,
)
from airflow_sync.jobs.connections import under_supervisor

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "airflow_sync.job."


def variable_key(name: str) -> str:
    """The Variable key of a job.

    :param name: JobName
    """
    return VARIABLE_PREFIX + name


# --------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _session_scope(session: Session | None) -> Iterator[Session]:
    """The caller's session as is, or a new one committed on success."""
    if session is not None:
        yield session
        return
    from airflow.utils.session import create_session

    with create_session() as new_session:
        yield new_session


def decode(key: str, raw: Any) -> Job:
    from airflow_sync.jobs.model import Job

    data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(data, dict):
        raise JobValidationError(f"stored job {key!r} is not a JSON object")
    return Job.from_store(data)


def _encode(job: Job) -> str:
    return json.dumps(job.to_store(), sort_keys=True, separators=(",", ":"))


def begin_write(session: Session, key: str = "") -> None:
    """On SQLite, open the real transaction and take the write lock now (no-op elsewhere).

    pysqlite sends BEGIN only before a DML statement: a store write whose first statement is a SAVEPOINT
    would run outside any transaction, and releasing the SAVEPOINT would commit it — a caller's later
    rollback could no longer undo it. SQLite has no row locks either; the no-op write also makes a concurrent
    writer wait here instead of reading the same version and overwriting ours afterwards.

    :param session: the session of the write
    :param key: the Variable key the no-op UPDATE names (it matches no row when empty)
    """
    from airflow.models.variable import Variable
    from sqlalchemy import update

    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Variable).where(Variable.key == key).values(key=Variable.key))


def _select_variable(session: Session, name: str, *, lock: bool) -> Any:
    """The job's Variable row (or None); with ``lock`` the row stays locked until the transaction ends."""
    from airflow.models.variable import Variable
    from sqlalchemy import select

    key = variable_key(name)
    if lock:
        begin_write(session, key)
    stmt = select(Variable).where(Variable.key == key)
    if lock:
        stmt = stmt.with_for_update()
    # populate_existing: a row cached in this session from an earlier read must not hide a newer value
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def _stored_rows(session: Session) -> list[tuple[str, Any]]:
    from airflow.models.variable import Variable
    from sqlalchemy import select

    ours = Variable.key.startswith(VARIABLE_PREFIX, autoescape=True)  # "_" is a LIKE wildcard
    rows = session.scalars(select(Variable).where(ours).order_by(Variable.key))
    return [(row.key, row.val) for row in rows if row.key.startswith(VARIABLE_PREFIX)]


def _job_with_id(session: Session, job_id: str) -> str | None:
    """The name of the stored job whose JobId is ``job_id`` (case-insensitive), or None."""
    from airflow_sync.jobs import catalog

    wanted = job_id.strip().lower()
    return next((j.name for j in catalog.read_all(session) if j.job_id.lower() == wanted), None)


def _validate_connections(job: Job) -> None:
    from airflow_sync.jobs.connections import connection_type
    from airflow_sync.jobs.model import validate_connections

    validate_connections(job, connection_type)


def _validate_event_links(job: Job, session: Session) -> None:
    """executeJob events name existing jobs and never lead back to ``job`` (issue #14)."""
    from airflow_sync.jobs.events import check_event_links

    check_event_links(job, lambda: {j.name: j for j in list_jobs(session=session)})


def _set_paused(session: Session, dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


# ------------------------------------------------------------------------------------------------ reads


def get_job(name: str, *, session: Session | None = None) -> Job:
    """The stored job called ``name``.

    :param name: JobName (case-sensitive)
    :param session: metadata DB session (ignored when supervised: the Task SDK is used)
    :raises JobNotFoundError: no such job
    """
    key = variable_key(name)
    if "\x00" in name:  # no job has one, and PostgreSQL refuses NUL in a query parameter
        raise JobNotFoundError(f"job {name[:100]!r} does not exist")
    if session is None and under_supervisor():
        from airflow.sdk import Variable

        raw = Variable.get(key, default=None)
        if raw is None:
            raise JobNotFoundError(f"job {name!r} does not exist")
        return decode(key, raw)
    with _session_scope(session) as s:
        row = _select_variable(s, name, lock=False)
        if row is None:
            raise JobNotFoundError(f"job {name!r} does not exist")
        return decode(key, row.val)


def _iter_stored(session: Session | None) -> list[tuple[str, Any]]:
    if session is None and under_supervisor():
        from airflow.sdk import Variable

        keys = sorted(k for k in Variable.keys(prefix=VARIABLE_PREFIX) if k.startswith(VARIABLE_PREFIX))
        return [(k, Variable.get(k, default=None)) for k in keys]
    with _session_scope(session) as s:
        return _stored_rows(s)


def list_jobs(*, session: Session | None = None) -> list[Job]:
    """Every stored job, sorted by name. A stored value that no longer loads is logged and left out.

    :param session: metadata DB session (ignored when supervised)
    """
    if not (session is None and under_supervisor()):
        from airflow_sync.jobs import catalog

        with _session_scope(session) as s:
            return catalog.read_all(s)
    jobs = []
    for key, raw in _iter_stored(session):
        if raw is None:  # deleted between listing and reading
            continue
        try:
            jobs.append(decode(key, raw))
        except Exception as exc:
            log.warning("Skipping stored job %s: %s: %s", key, type(exc).__name__, exc)
    return sorted(jobs, key=lambda j: j.name)


def jobs_by_names(names: set[str], *, session: Session) -> dict[str, Job]:
    """The stored jobs of these names (JobName -> job); names without a job are left out.

    :param names: JobNames
    :param session: metadata DB session
    """
    from airflow_sync.jobs import catalog

    return catalog.read_names(names, session=session) if names else {}


def find_job(name_or_id: str, *, session: Session | None = None) -> Job:
    """The job whose JobName is ``name_or_id``, else the one whose JobId is (case-insensitive UUID).

    :param name_or_id: JobName or JobId
    :param session: metadata DB session
    :raises JobNotFoundError: neither matches
    """
    try:
        return get_job(name_or_id, session=session)
    except JobNotFoundError:
        if "\x00" in name_or_id:
            raise
    wanted = name_or_id.strip().lower()
    for job in list_jobs(session=session):
        if job.job_id.lower() == wanted:
            return job
    raise JobNotFoundError(f"job {name_or_id!r} does not exist")


def load_raw_for_parsing() -> list[tuple[str, Any]]:
    """``(variable key, stored value)`` pairs for the DAG factory (design D5), sorted by key.

    When Airflow re-parses the shim to run one task, :func:`airflow.sdk.get_parsing_context` names the
    DAG; then only that job is read (0.08 s instead of 1.7 s at 100 jobs).
    """
    from airflow.sdk import get_parsing_context

    from airflow_sync import settings

    prefix = settings.get_str("dag_id_prefix")
    only = get_parsing_context().dag_id
    if only and only.startswith(prefix):
        name = only[len(prefix) :]
        if under_supervisor():
            from airflow.sdk import Variable

            raw = Variable.get(variable_key(name), default=None)
            return [] if raw is None else [(variable_key(name), raw)]
        return [(k, v) for k, v in _iter_stored(None) if k == variable_key(name)]
    return _iter_stored(None)


def load_jobs_for_parsing() -> list[Job]:
    """The jobs the DAG factory turns into DAGs; a broken stored job is logged and skipped (strict mode
    re-raises)."""
    from airflow_sync import settings

    strict = settings.get_bool("strict_mode")
    jobs = []
    for key, raw in load_raw_for_parsing():
        try:
            jobs.append(decode(key, raw))
        except Exception:
            if strict:
                raise
            log.exception("airflow_sync: stored job %s cannot be loaded; no DAG generated for it", key)
    return jobs


# ----------------------------------------------------------------------------------------------- writes


def request_reparse(session: Session) -> None:
    """Ask the dag-processor to re-parse the shim now (design D6).

    The request row's primary key is ``md5(bundle:file)``: while an earlier request is unclaimed, a second
    one is a duplicate. The insert runs in a SAVEPOINT so that duplicate never rolls back the job write.

    :param session: the session of the job write
    """
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy.exc import IntegrityError

    from airflow_sync import settings

    try:
        with session.begin_nested():
            session.add(
                DagPriorityParsingRequest(
                    bundle_name=settings.get_str("dag_bundle_name"),
                    relative_fileloc=settings.get_str("dag_shim_fileloc"),
                )
            )
    except IntegrityError:
        log.debug("A parse request for the airflow_sync shim is already pending")


def job_is_running(dag_id: str, *, session: Session) -> bool:
    """Whether the DAG has a queued or running run.

    :param dag_id: the job's DAG id
    :param session: metadata DB session
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    stmt = (
        select(DagRun.id)
        .where(DagRun.dag_id == dag_id, DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING]))
        .limit(1)
    )
    return session.scalar(stmt) is not None


def create_job(job: Job, *, session: Session | None = None) -> Job:
    """Store a new job and request its DAG.

    :param job: the validated job (its ``job_id`` is kept)
    :param session: metadata DB session (the caller commits); None = own transaction
    :raises JobExistsError: a job with that name exists, or another job has its JobId (a body may carry
        ``JobId``, which :meth:`Job.from_wire` adopts)
    :raises JobValidationError: Source or Destination is not a usable connection
    """
    from airflow.models.variable import Variable
    from sqlalchemy.exc import IntegrityError

    from airflow_sync.dags.schedule import stamp_after

    _validate_connections(job)
    job = stamp_after(None, job)  # a new schedule starts no run: its first run is its next tick
    with _session_scope(session) as s:
        begin_write(s)
        if _select_variable(s, job.name, lock=False) is not None:
            raise JobExistsError(f"job {job.name!r} already exists")
        _validate_event_links(job, s)
        # find_job() looks jobs up by JobId too, so two jobs must never share one. Two concurrent creates
        # with the same explicit JobId are not serialised (ids are normally fresh UUIDs).
        holder = _job_with_id(s, job.job_id)
        if holder is not None:
            raise JobExistsError(
                f"JobId {job.job_id} already belongs to job {holder!r}; "
                "leave JobId out to get a new one, or modify that job instead"
            )
        try:
            with s.begin_nested():  # a concurrent create of the same name fails here, not at commit
                s.add(Variable(key=variable_key(job.name), val=_encode(job), description=_description(job)))
        except IntegrityError:
            raise JobExistsError(f"job {job.name!r} already exists") from None
        # a job re-created under a deleted job's name gets its (paused) DAG back
        _set_paused(s, job.dag_id(), False)
        request_reparse(s)
    log.info("Created job %s (version %s)", job.name, job.version)
    return job


def update_job(job: Job, *, expected_version: str | None, session: Session | None = None) -> Job:
    """Replace a stored job (same name; its JobId is kept).

    The job's Variable row is locked first, so of two writers holding the same ``expected_version``
    exactly one succeeds and the other gets :class:`JobConflictError`.

    :param job: the new content
    :param expected_version: the version the caller's edit is based on; None = overwrite whatever is stored
    :param session: metadata DB session (the caller commits); None = own transaction
    :raises JobNotFoundError: no such job
    :raises JobConflictError: the stored version is not ``expected_version``
    :raises JobRunningError: the job has a queued or running run
    :raises JobValidationError: Source or Destination is not a usable connection
    """
    _validate_connections(job)
    with _session_scope(session) as s:
        row = _select_variable(s, job.name, lock=True)
        if row is None:
            raise JobNotFoundError(f"job {job.name!r} does not exist")
        current = decode(row.key, row.val)
        if expected_version is not None and current.version != expected_version:
            raise JobConflictError(
                f"job {job.name!r} was changed by someone else (stored version {current.version}, "
                f"your edit is based on {expected_version}); reload it and apply your change again"
            )
        if job_is_running(current.dag_id(), session=s):
            raise JobRunningError(f"job {job.name!r} is running; wait for the run to end or cancel it")
        _validate_event_links(job, s)
        if job.job_id != current.job_id:
            job = dataclasses.replace(job, job_id=current.job_id)
        from airflow_sync.dags.schedule import stamp_after

        job = stamp_after(current, job)  # a changed schedule restarts at its next tick; other edits keep it
        row.val = _encode(job)
        row.description = _description(job)
        request_reparse(s)
    log.info("Updated job %s (version %s -> %s)", job.name, current.version, job.version)
    return job


def delete_job(name: str, *, session: Session | None = None) -> None:
    """Remove a job: its DAG is paused at once (it turns stale after the next parse), run history stays.

    :param name: JobName
    :param session: metadata DB session (the caller commits); None = own transaction
    :raises JobNotFoundError: no such job
    :raises JobRunningError: the job has a queued or running run
    """
    with _session_scope(session) as s:
        row = _select_variable(s, name, lock=True)
        if row is None:
            raise JobNotFoundError(f"job {name!r} does not exist")
        try:
            dag_id = decode(row.key, row.val).dag_id()
        except Exception:  # a broken stored value must still be deletable
            from airflow_sync import settings

            dag_id = settings.get_str("dag_id_prefix") + name
        if job_is_running(dag_id, session=s):
            raise JobRunningError(f"job {name!r} is running; wait for the run to end or cancel it")
        _set_paused(s, dag_id, True)
        s.delete(row)
        request_reparse(s)
    log.info("Deleted job %s", name)


def _description(job: Job) -> str:
    return f"airflow_sync job {job.name} ({job.source} -> {job.destination}); edit with the job API or CLI"

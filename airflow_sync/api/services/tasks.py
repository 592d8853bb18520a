"""The ``tasks`` entity set: a job's queries as entities of their own (research §1.3).

A task *is* one ``Query#N`` of its job: the job's query list (and the TaskIds stored beside it, see
:mod:`airflow_sync.jobs.task_ids`) stays the one source of truth, and every task change is a job change —
validated like ``PUT /jobs`` (the whole new query list), refused while the job runs (409 JobRunning),
made against the version it read (409 JobConflict when someone else changed the job in between, or when
the client's ``RowVersion`` or ``If-Match`` is not the current version), and followed by the DAG. The
DAG's task ids (``replicate_<table>``) do not depend on TaskIds or positions, so they stay what they were.

Entity: ``TaskId``, ``JobName``, ``JobId``, ``Index`` (1-based, dense), ``Query``, ``Table`` (the source
table the query reads), ``RowVersion`` (the job's version: the same for every task of a job, it changes with
any change of the job).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_sync.api.errors import ApiError, from_domain
from airflow_sync.api.services.common import dag_id_for, lock_dag, resolve_job
from airflow_sync.api.services.jobs import _check_version as check_version
from airflow_sync.exceptions import JobNotFoundError, JobRunningError, JobValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.api.auth import Principal
    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

Tasks = list[tuple[str, str]]  # (TaskId, query) in job order

_QUERY_FIELD = re.compile(r"^Query#\d+$")


# ------------------------------------------------------------------------------------------------ reads


@functools.lru_cache(maxsize=20_000)
def _source_table(query: str) -> str | None:
    """The source table a query reads (cached by text: listing every task of 1,000 jobs parses nothing
    twice); None for a stored query that no longer parses (it still lists)."""
    from airflow_sync.jobs.replicate import parse_replicate

    try:
        stmt = parse_replicate(query)
    except JobValidationError:
        return None
    return ".".join(stmt.source.parts)


def task_rows(job: Job) -> list[dict[str, Any]]:
    """The wire entities of a job's tasks, in order."""
    return [
        {
            "TaskId": task_id,
            "JobName": job.name,
            "JobId": job.job_id,
            "Index": str(n),
            "Query": query,
            "Table": _source_table(query),
            "RowVersion": job.version,
        }
        for n, (task_id, query) in enumerate(zip(job.task_ids, job.queries, strict=True), start=1)
    ]


def visible_rows(principal: Principal, job_key: str | None, *, session: Session) -> list[dict[str, Any]]:
    """Tasks of every job the caller may read, or of the job ``job_key`` (JobName or JobId)."""
    from airflow_sync.jobs import store

    if job_key is not None:
        job = resolve_job(job_key, session=session)
        principal.authorize("read", dag_id_for(job.name))
        return task_rows(job)
    jobs = store.list_jobs(session=session)
    readable = principal.filter_allowed("read", [dag_id_for(j.name) for j in jobs])
    return [row for job in jobs if dag_id_for(job.name) in readable for row in task_rows(job)]


def job_of_task(task_id: str, *, session: Session) -> Job | None:
    """The job that has the task ``task_id``, or None."""
    from airflow_sync.jobs import store

    wanted = task_id.strip()
    for job in store.list_jobs(session=session):
        if wanted in job.task_ids:
            return job
    return None


def rows_for_key(key: str, key_name: str | None, principal: Principal, *, session: Session) -> list[dict]:
    """``tasks(X)``: the tasks of job X (JobName or JobId), or the task whose TaskId is X.

    :param key_name: the key property when the key was named (``JobName``, ``JobId``, ``TaskId``)
    :raises JobNotFoundError: no such job or task (404)
    """
    if key_name in (None, "jobname", "jobid"):
        try:
            return visible_rows(principal, key, session=session)
        except JobNotFoundError:
            if key_name is not None or not key.strip().isdigit():
                raise
    job = job_of_task(key, session=session)
    if job is None:
        raise JobNotFoundError(f"No job or task {key!r} exists")
    principal.authorize("read", dag_id_for(job.name))
    return [row for row in task_rows(job) if row["TaskId"] == key.strip()]


# ----------------------------------------------------------------------------------------------- writes


@dataclass
class TaskEdit:
    """One change of a job's task list, applied by :func:`edit`.

    :param apply: current tasks -> (new tasks, the TaskId the caller asked about)
    :param sent_field: the request field the query came from (``Query`` or ``Table``), named in errors
    """

    apply: Callable[[Tasks], tuple[Tasks, str]]
    sent_field: str = "Query"


def edit(
    job_key: str,
    change: TaskEdit,
    principal: Principal,
    *,
    expected_versions: Sequence[str] = (),
    session: Session,
) -> tuple[Job, str]:
    """Apply ``change`` to the job's task list as a job change; returns the saved job and the TaskId.

    :param expected_versions: the job versions the change is based on (``RowVersion``, ``If-Match``); each
        must be the stored one, as for ``PUT /jobs``
    :raises JobNotFoundError: 404; :class:`JobRunningError`, :class:`JobConflictError`: 409
    :raises ApiError: 400 naming the sent field when the new query list does not validate
    """
    from airflow_sync.jobs import store

    current = resolve_job(job_key, session=session)
    dag_id = dag_id_for(current.name)
    principal.authorize("edit", dag_id)
    check_version(current, expected_versions)
    lock_dag(dag_id, session=session)
    if store.job_is_running(dag_id, session=session):
        raise JobRunningError(
            f"Job '{current.name}' is running; change its tasks after the run ends or cancel it"
        )
    tasks, task_id = change.apply(list(zip(current.task_ids, current.queries, strict=True)))
    try:
        updated = current.with_tasks(tasks)
    except JobValidationError as exc:
        error = from_domain(exc)
        target = change.sent_field if error.target and _QUERY_FIELD.match(error.target) else error.target
        raise ApiError(400, error.code, error.message, target=target) from None
    saved = store.update_job(updated, expected_version=current.version, session=session)
    log.info("Job %s: tasks changed (%d -> %d)", current.name, len(current.queries), len(saved.queries))
    return saved, task_id


def _position(index: int | None, count: int, *, adding: bool) -> int:
    """0-based position for a 1-based ``Index`` (None = the end); 400 naming Index when out of range."""
    last = count + 1 if adding else count
    if index is None:
        return last - 1
    if not 1 <= index <= last:
        raise ApiError(
            400, "InvalidParameter", f"Index must be between 1 and {last}, got {index}.", target="Index"
        )
    return index - 1


def adding(query: str, index: int | None) -> Callable[[Tasks], tuple[Tasks, str]]:
    """A change that inserts ``query`` at ``Index`` (later tasks shift) or at the end."""
    from airflow_sync.jobs.task_ids import new_task_id

    def apply(tasks: Tasks) -> tuple[Tasks, str]:
        pos = _position(index, len(tasks), adding=True)
        task_id = new_task_id()
        return [*tasks[:pos], (task_id, query), *tasks[pos:]], task_id

    return apply


def _find(tasks: Sequence[tuple[str, str]], task_id: str) -> int:
    for pos, (tid, _) in enumerate(tasks):
        if tid == task_id.strip():
            return pos
    raise ApiError(404, "TaskNotFound", f"The job has no task with TaskId {task_id!r}.", target="TaskId")


def updating(task_id: str, query: str | None, index: int | None) -> Callable[[Tasks], tuple[Tasks, str]]:
    """A change of one task's query and/or position (``Index``: it moves, the others close up)."""

    def apply(tasks: Tasks) -> tuple[Tasks, str]:
        pos = _find(tasks, task_id)
        tid, old = tasks[pos]
        rest = [*tasks[:pos], *tasks[pos + 1 :]]
        new_pos = pos if index is None else _position(index, len(tasks), adding=False)
        rest.insert(new_pos, (tid, old if query is None else query))
        return rest, tid

    return apply


def removing(task_id: str) -> Callable[[Tasks], tuple[Tasks, str]]:
    """A change that removes one task (the later ones move up)."""

    def apply(tasks: Tasks) -> tuple[Tasks, str]:
        pos = _find(tasks, task_id)
        return [*tasks[:pos], *tasks[pos + 1 :]], tasks[pos][0]

    return apply


def table_query(table: str) -> str:
    """``REPLICATE [T]`` for a ``Table`` field: the whole text is one name (``Account.csv`` stays one table,
    as in CData), unless it is written quoted (``[crm].[Orders]``, ``"crm"."Orders"``), then its parts are.

    :raises ApiError: 400 naming Table when it is empty or its quoting is malformed
    """
    from airflow_sync.api.services.browse import split_table_name
    from airflow_sync.jobs.replicate import quote_ident

    text = table.strip()
    if not text:
        raise ApiError(400, "InvalidParameter", "Table must name a table.", target="Table")
    if text[0] in '["`':
        try:
            parts = split_table_name(text)
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"Table: {exc}.", target="Table") from None
    else:
        parts = [text]
    return "REPLICATE " + ".".join(quote_ident(p) for p in parts)

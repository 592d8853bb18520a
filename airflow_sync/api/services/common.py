"""Small shared helpers of the API services: wire scalars, timestamps, DAG ids, job lookup, row locks.

Everything here is synchronous and takes an explicit SQLAlchemy ``session`` (the routes run it in a worker
thread). Nothing is cached in memory: several api-server processes may serve the same deployment.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_sync import settings
from airflow_sync.exceptions import JobNotFoundError, JobValidationError
from airflow_sync.jobs.fields import JOB_NAME_MAX
from airflow_sync.jobs.scalars import WS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

T = TypeVar("T")

#: body fields every action accepts to name a job (CData sends either)
KEY_FIELDS = ("JobName", "JobId")
#: longest JobName (a JobId, a UUID, is shorter)
KEY_MAX = JOB_NAME_MAX


def wire_str(value: Any) -> str | None:
    """A scalar as CData emits it: strings, ``"True"``/``"False"``, numbers as digits, None stays null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 with an explicit UTC offset (``2026-03-01T02:00:00+00:00``), or None."""
    if value is None:
        return None
    if value.tzinfo is None:  # Airflow stores UTC; a naive value here is UTC too
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def hhmmss(delta: timedelta | None) -> str:
    """A duration as ``hh:mm:ss`` (hours may exceed 24), the History ``Runtime`` form."""
    if delta is None:
        return "00:00:00"
    total = max(int(delta.total_seconds()), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


_PREFIX_ENV = "AIRFLOW__AIRFLOW_SYNC__DAG_ID_PREFIX"
_prefix_memo: tuple[str | None, str] | None = None


def prefix() -> str:
    """The configured DAG id prefix (``sync__`` by default).

    Read from Airflow's configuration once per process (a lookup costs ~0.1 ms, and a list of 1,000 jobs
    needs thousands), and again whenever its environment variable changes; ``airflow.cfg`` is read at
    start-up anyway.
    """
    global _prefix_memo
    env = os.environ.get(_PREFIX_ENV)
    memo = _prefix_memo
    if memo is None or memo[0] != env:
        memo = _prefix_memo = (env, settings.get_str("dag_id_prefix"))
    return memo[1]


def dag_id_for(job_name: str) -> str:
    """The DAG id of a job name (also works for deleted jobs, whose runs stay in history)."""
    return prefix() + job_name


def job_name_for(dag_id: str) -> str:
    """The job name a Sync DAG id stands for."""
    return dag_id.removeprefix(prefix())


def get_field(body: Mapping[str, Any], name: str) -> Any:
    """A body field by case-insensitive name (CData clients vary the case), None when absent."""
    lname = name.lower()
    for key, value in body.items():
        if key.lower() == lname:
            return value
    return None


def job_key(body: Mapping[str, Any], *, required: bool = True) -> str | None:
    """The job named by ``JobName`` or ``JobId`` in an action body (JobName wins when both are given).

    :raises JobValidationError: naming ``JobName`` when neither is given and ``required``; naming the field
        when one is given but is not a non-blank string of at most 100 characters
    """
    found = None
    for name in KEY_FIELDS:
        value = get_field(body, name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip(WS):
            raise JobValidationError(f"{name} must be a non-empty string, got {value!r:.40}", field=name)
        if len(value) > KEY_MAX:
            raise JobValidationError(f"{name} is longer than {KEY_MAX} characters", field=name)
        found = found or value.strip(WS)
    if found is not None:
        return found
    if required:
        raise JobValidationError("JobName (or JobId) is required", field="JobName")
    return None


def resolve_job(key: str, *, session: Session) -> Job:
    """The stored job for a JobName or JobId.

    :raises JobNotFoundError: when neither matches
    """
    from airflow_sync.jobs import store

    try:
        return store.find_job(key, session=session)
    except JobNotFoundError:
        raise
    except LookupError as exc:  # defensive: a store that raises KeyError-likes still means 404
        raise JobNotFoundError(f"Job '{key}' does not exist") from exc


def lock_dag(dag_id: str, *, session: Session) -> None:
    """Serialise writers of one job: row-lock its ``dag`` row until the transaction ends.

    PostgreSQL / MySQL take ``SELECT ... FOR UPDATE``. SQLite ignores FOR UPDATE but has one writer at a
    time, so a no-op UPDATE makes this transaction the writer *before* it reads anything; a second caller
    then blocks (busy timeout) until the first commits and sees its run.
    """
    from airflow.models.dag import DagModel
    from sqlalchemy import select, update

    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(DagModel).where(DagModel.dag_id == dag_id).values(dag_id=DagModel.dag_id),
            execution_options={"synchronize_session": False},
        )
    else:
        session.execute(select(DagModel.dag_id).where(DagModel.dag_id == dag_id).with_for_update())


#: what a busy metadata DB says (SQLite writer lock, PostgreSQL/MySQL deadlock or lock wait); retried
_BUSY_MARKERS = ("database is locked", "deadlock", "lock wait timeout", "could not serialize")
_ATTEMPTS = 4


def _busy(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(marker in text for marker in _BUSY_MARKERS)


def in_session(fn: Callable[..., T], args: tuple = (), kwargs: dict | None = None) -> T:
    """Run ``fn(*args, session=..., **kwargs)`` in one transaction (committed, or rolled back on error).

    A transaction that loses to a concurrent writer (SQLite's single writer lock, a deadlock) is rolled
    back and run again — the functions re-read and re-check everything they decide on — and after a few
    attempts the caller gets a 503 asking to retry, never a 500.
    """
    import time

    from airflow.utils.session import create_session
    from sqlalchemy.exc import OperationalError

    for attempt in range(_ATTEMPTS):
        try:
            with create_session(scoped=False) as session:
                return fn(*args, session=session, **(kwargs or {}))
        except OperationalError as exc:
            if not _busy(exc):
                raise
            if attempt == _ATTEMPTS - 1:
                from airflow_sync.api.errors import ApiError

                raise ApiError(
                    503, "ServiceUnavailable", "The metadata database is busy; retry the request."
                ) from exc
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


async def run_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, session=..., **kwargs)`` in a worker thread inside one committed transaction.

    Routes are ``async``: the event loop never blocks on the metadata DB, and a waiting executeJob holds
    no thread between its polls.
    """
    return await asyncio.to_thread(in_session, fn, args, kwargs)

"""Running PreJob / PostJob code (``spec/job-api.md`` §6) inside the ``pre_job`` / ``post_job`` tasks.

The forms were parsed and validated when the job was saved (:func:`airflow_sync.jobs.events.parse_event`);
here they are executed, and each form has its delivery semantics when a task is retried (a lost worker, a
transient error):

* ``sql:`` — the statements on the destination connection in **one transaction**: an attempt commits all
  of them or none; a retry runs the whole transaction again (at least once as a unit). Database errors are
  redacted exactly like replication errors (no row values, no statement text).
* ``http: METHOD conn_id endpoint`` — HttpHook call with the run summary as JSON body, **at least once**:
  connection errors, 5xx and 429 are retried, other 4xx fail at once.
* ``python: module:function`` — ``function(job_dict, run_summary_dict)``, only when the callable matches
  ``[airflow_sync] python_event_allowlist`` (checked before anything is imported); an exception fails at
  once; a lost worker runs it again (at least once).
* CData XML — ``CancelJob`` / ``out.env:NAME`` (no side effects), ``sendEmail`` (at least once: SMTP errors
  are retried), ``executeJob`` (**exactly once** per run: the triggered run's id is derived from this run,
  so a retry finds it already there). A run that failed or was cancelled starts no follow-up job, and a chain
  of ``executeJob`` runs stops at ``[airflow_sync] max_event_chain_depth`` or when it comes back to a job
  already in the chain.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_sync.jobs.events import (
    CDataEvent,
    Event,
    HttpEvent,
    PythonEvent,
    SqlEvent,
    check_python_allowed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

#: run conf key: the jobs whose events started this run, oldest first (``executeJob`` chains)
CHAIN_CONF_KEY = "event_chain"


class EventFailed(Exception):
    """PreJob/PostJob code failed; ``retryable`` when another attempt may succeed (Airflow retries it)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass
class EventResult:
    """What an event asks of the run: skip the queries, variables for the queries; jobs it started."""

    cancel_job: bool = False
    env: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)

    def to_xcom(self) -> dict[str, Any]:
        return {"cancel_job": self.cancel_job, "env": dict(self.env), "started": list(self.started)}


@dataclass(frozen=True)
class RunContext:
    """Where the event runs: which run, which chain of executeJob events led to it, and whether the run's
    outcome allows starting follow-up jobs (PostJob of a successful run; any PreJob)."""

    dag_id: str
    run_id: str
    phase: str
    chain: tuple[str, ...] = ()
    follow_ups: bool = True
    why_not: str = ""
    trigger: Callable[[str, str, dict[str, Any]], str] | None = None
    still_wanted: Callable[[], str | None] | None = None


def run_event(
    event: Event | None,
    *,
    job: Job,
    summary: dict[str, Any],
    ctx: RunContext | None = None,
    logger: Any = None,
) -> EventResult:
    """Execute one parsed event.

    :param event: the parsed PreJob/PostJob code (None = nothing to do)
    :param job: the job
    :param summary: the run summary so far (JSON-safe dict)
    :param ctx: the run it belongs to (needed for ``executeJob``)
    :param logger: logger for progress messages
    :raises EventFailed: the code failed (its message is safe to show)
    """
    logger = logger or log
    result = EventResult()
    if event is None:
        return result
    if isinstance(event, SqlEvent):
        _run_sql(job, event, logger)
    elif isinstance(event, PythonEvent):
        _run_python(job, event, summary, logger)
    elif isinstance(event, HttpEvent):
        _run_http(event, summary, logger)
    elif isinstance(event, CDataEvent):
        result.cancel_job = event.cancel_job
        result.env = {str(k): str(v) for k, v in event.env.items()}
        for mail in event.send_emails:
            _send_mail(job, mail.to, mail.subject, mail.message)
        for n, name in enumerate(event.execute_jobs):
            started = _execute_job(job, name, n, ctx, logger)
            if started:
                result.started.append(started)
    else:  # pragma: no cover - parse_event only returns the types above
        raise TypeError(f"unsupported event {type(event).__name__}")
    return result


# --- sql -----------------------------------------------------------------------------------------------


def _sql_names(statements: tuple[str, ...]) -> list[str]:
    """Identifiers written in the statements (outside string literals): the redaction keeps these."""
    import re

    names: list[str] = []
    for stmt in statements:
        bare = re.sub(r"'(?:[^']|'')*'", " ", stmt)
        names += re.findall(r'"((?:[^"]|"")+)"|`([^`]+)`|\[([^\]]+)\]|([A-Za-z_][A-Za-z0-9_$]*)', bare)
    return [next(part for part in groups if part) for groups in names]  # type: ignore[arg-type]


def _run_sql(job: Job, event: SqlEvent, logger: Any) -> None:
    from airflow_sync.engine.dialects import dialect_for
    from airflow_sync.engine.errors import classify
    from airflow_sync.exceptions import ReplicationError
    from airflow_sync.jobs.connections import sqlalchemy_url

    dialect = dialect_for(sqlalchemy_url(job.destination))
    conn = None
    n = 0
    try:
        conn = dialect.connect()
        dialect.begin(conn)
        for n, statement in enumerate(event.statements, start=1):
            rows = dialect.execute(conn, statement)
            logger.info("SQL statement %d of %d: %s rows", n, len(event.statements), rows)
        dialect.commit(conn)
    except Exception as exc:
        where = f"running statement {n} of {len(event.statements)}" if n else "connecting"
        err = (
            exc
            if isinstance(exc, ReplicationError)
            else classify(exc, dialect, where=where, known=_sql_names(event.statements))
        )
        raise EventFailed(err.message, retryable=err.transient) from None
    finally:
        if conn is not None:
            dialect.rollback(conn)
            dialect.close(conn)


# --- python / http / mail -------------------------------------------------------------------------------


def _run_python(job: Job, event: PythonEvent, summary: dict[str, Any], logger: Any) -> None:
    from airflow_sync.exceptions import JobValidationError

    try:
        check_python_allowed(event, field="python")  # before anything is imported
    except JobValidationError as exc:
        raise EventFailed(exc.message) from None
    try:
        module = importlib.import_module(event.module)
    except Exception as exc:
        raise EventFailed(f"python: cannot import {event.module} ({type(exc).__name__}: {exc})") from None
    function = getattr(module, event.function, None)
    if not callable(function):
        raise EventFailed(f"python: {event.module}:{event.function} is not a callable")
    logger.info("Calling %s:%s", event.module, event.function)
    try:
        function(job.to_wire(), summary)
    except Exception as exc:
        raise EventFailed(
            f"python: {event.module}:{event.function} raised {type(exc).__name__}: {exc}"
        ) from exc


def _run_http(event: HttpEvent, summary: dict[str, Any], logger: Any) -> None:
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method=event.method, http_conn_id=event.conn_id)
    try:
        if event.method in ("GET", "DELETE"):  # HttpHook turns GET data into query parameters: send none
            response = hook.run(event.endpoint, extra_options={"check_response": False})
        else:
            body = json.dumps(summary, default=str)
            response = hook.run(
                event.endpoint,
                data=body,
                headers={"Content-Type": "application/json"},
                extra_options={"check_response": False},
            )
    except Exception as exc:  # connection refused, DNS, timeout: the receiver may be back soon
        raise EventFailed(
            f"http: {event.method} {event.endpoint} on connection {event.conn_id!r} failed: "
            f"{type(exc).__name__}",
            retryable=True,
        ) from None
    code = response.status_code
    logger.info("%s %s -> HTTP %s", event.method, event.endpoint, code)
    if code >= 400:
        raise EventFailed(
            f"http: {event.method} {event.endpoint} answered HTTP {code}",
            retryable=code >= 500 or code == 429,
        )


def _send_mail(job: Job, to: tuple[str, ...], subject: str, message: str) -> None:
    from airflow_sync.notifications import send_email

    try:
        send_email(to, subject or f"[airflow_sync] {job.name}", message)
    except Exception as exc:
        raise EventFailed(f"sendEmail failed: {type(exc).__name__}: {exc}", retryable=True) from None


# --- executeJob -----------------------------------------------------------------------------------------


def follow_up_run_id(dag_id: str, run_id: str, phase: str, index: int, target: str) -> str:
    """The run id of a job started by an event: the same on every attempt of the event (exactly once)."""
    digest = hashlib.sha256(f"{dag_id}\0{run_id}\0{phase}\0{index}\0{target}".encode()).hexdigest()[:20]
    return f"manual__airflow_sync_event__{digest}"


def _execute_job(job: Job, name: str, index: int, ctx: RunContext | None, logger: Any) -> str | None:
    from airflow_sync import settings
    from airflow_sync.exceptions import JobNotFoundError
    from airflow_sync.jobs import store

    if ctx is None or ctx.trigger is None:
        raise EventFailed("executeJob needs a running task to trigger from")
    if not ctx.follow_ups:
        logger.warning("Not starting job %s: %s", name, ctx.why_not)
        return None
    if ctx.still_wanted is not None and (who := ctx.still_wanted()):
        logger.warning("Not starting job %s: the run was cancelled by %s", name, who)
        return None
    chain = (*ctx.chain, job.name)
    limit = settings.get_int("max_event_chain_depth")
    if name in chain:
        raise EventFailed(f"executeJob {name}: the chain {' -> '.join((*chain, name))} comes back to {name}")
    if len(chain) > limit:
        raise EventFailed(
            f"executeJob {name}: the chain {' -> '.join((*chain, name))} is longer than "
            f"[airflow_sync] max_event_chain_depth = {limit}"
        )
    try:
        target = store.get_job(name)
    except JobNotFoundError:
        raise EventFailed(f"executeJob: job {name!r} does not exist") from None
    run_id = follow_up_run_id(ctx.dag_id, ctx.run_id, ctx.phase, index, name)
    conf = {"job_version": target.version, "job_id": target.job_id, CHAIN_CONF_KEY: list(chain)}
    started = ctx.trigger(target.dag_id(), run_id, conf)
    logger.info("Started job %s (run %s)", name, started)
    return started


def trigger_through_sdk(dag_id: str, run_id: str, conf: dict[str, Any]) -> str:
    """Trigger a DAG run from inside a task through the Task SDK; an existing run with this id (an earlier
    attempt of the same event) counts as started."""
    from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    response = SUPERVISOR_COMMS.send(
        TriggerDagRun(dag_id=dag_id, run_id=run_id, conf=conf, run_after=datetime.now(tz=UTC))
    )
    if isinstance(response, ErrorResponse):
        kind = str(getattr(response.error, "value", response.error))
        if kind == "DAGRUN_ALREADY_EXISTS":
            return run_id
        raise EventFailed(f"executeJob: triggering {dag_id} failed: {kind}", retryable=True)
    return run_id

"""Running PreJob / PostJob code (``spec/job-api.md`` §6) inside the ``pre_job`` / ``post_job`` tasks.

The forms were parsed and validated when the job was saved (:func:`airflow_sync.jobs.events.parse_event`);
here they are executed:

* ``sql:`` — the statements on the destination connection, in one transaction;
* ``python: module:function`` — ``function(job_dict, run_summary_dict)``; nothing is eval'ed;
* ``http: METHOD conn_id endpoint`` — HttpHook call with the run summary as JSON body;
* CData XML — ``CancelJob`` (pre-job: the queries skip themselves), ``out.env:NAME`` (values for
  ``{env:NAME}`` in the queries), ``sendEmail`` through the smtp provider, ``executeJob`` (triggers
  another job's DAG through the Task SDK).
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_sync.jobs.events import CDataEvent, Event, HttpEvent, PythonEvent, SqlEvent

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)


@dataclass
class EventResult:
    """What an event asks of the run: skip the queries, variables for the queries."""

    cancel_job: bool = False
    env: dict[str, str] = field(default_factory=dict)

    def to_xcom(self) -> dict[str, Any]:
        return {"cancel_job": self.cancel_job, "env": dict(self.env)}


def run_event(
    event: Event | None, *, job: Job, summary: dict[str, Any], trigger: Any = None, logger: Any = None
) -> EventResult:
    """Execute one parsed event.

    :param event: the parsed PreJob/PostJob code (None = nothing to do)
    :param job: the job
    :param summary: the run summary so far (JSON-safe dict)
    :param trigger: callable ``trigger(dag_id, conf)`` used by ``executeJob`` (the task supplies it)
    :param logger: logger for progress messages
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
            from airflow_sync.notifications import send_email

            send_email(mail.to, mail.subject or f"[airflow_sync] {job.name}", mail.message)
        for name in event.execute_jobs:
            _execute_job(name, trigger, logger)
    else:  # pragma: no cover - parse_event only returns the types above
        raise TypeError(f"unsupported event {type(event).__name__}")
    return result


def _run_sql(job: Job, event: SqlEvent, logger: Any) -> None:
    import sqlalchemy

    from airflow_sync.jobs.connections import sqlalchemy_url

    engine = sqlalchemy.create_engine(sqlalchemy_url(job.destination))
    try:
        with engine.begin() as conn:
            for n, statement in enumerate(event.statements, start=1):
                # exec_driver_sql: the text goes to the database as written (no bind-parameter parsing)
                result = conn.exec_driver_sql(statement)
                logger.info("SQL statement %d of %d: %s rows", n, len(event.statements), result.rowcount)
    finally:
        engine.dispose()


def _run_python(job: Job, event: PythonEvent, summary: dict[str, Any], logger: Any) -> None:
    module = importlib.import_module(event.module)
    function = getattr(module, event.function, None)
    if not callable(function):
        raise ValueError(f"{event.module}:{event.function} is not a callable in an importable module")
    logger.info("Calling %s:%s", event.module, event.function)
    function(job.to_wire(), summary)


def _run_http(event: HttpEvent, summary: dict[str, Any], logger: Any) -> None:
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method=event.method, http_conn_id=event.conn_id)
    if event.method in ("GET", "DELETE"):  # HttpHook turns GET data into query parameters: send none
        response = hook.run(event.endpoint)
    else:
        body = json.dumps(summary, default=str)
        response = hook.run(event.endpoint, data=body, headers={"Content-Type": "application/json"})
    logger.info("%s %s -> HTTP %s", event.method, event.endpoint, response.status_code)


def _execute_job(name: str, trigger: Any, logger: Any) -> None:
    from airflow_sync.jobs import store

    target = store.get_job(name)
    if trigger is None:
        raise RuntimeError("executeJob needs a running task to trigger from")
    trigger(target.dag_id(), {"job_version": target.version})
    logger.info("Triggered job %s", name)

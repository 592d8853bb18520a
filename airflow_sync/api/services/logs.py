"""getLogs: the task logs of a job's recent runs, read through Airflow's own ``TaskLogReader``.

The reader is the one behind the Airflow UI's log view, so local files, the worker log server and remote
logging (S3, GCS, Elasticsearch ...) all work as configured. Each task attempt becomes one row whose
``Content`` is the base64 of the attempt's log text (one line per log record).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_sync.api.services.common import iso, job_name_for, wire_str

if TYPE_CHECKING:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

LOG_FIELDS = ("JobName", "RunId", "Query", "TaskId", "Try", "RunStartDate", "LogFile", "Content")
_HEADER_START, _HEADER_END = "::group::Log message source details", "::endgroup::"
_TASK_ORDER = {"pre_job": 0, "post_job": 2, "notify": 3}
#: the no-op leaf of every job DAG (the scheduler completes it without a worker: there is no log)
_NO_LOG = "finish"


def _attach_task(ti: Any, *, session: Session, cache: dict[int, Any]) -> None:
    """Give the TI its task from the run's serialized DAG (the reader needs it for some handlers)."""
    from airflow.exceptions import TaskNotFound
    from airflow.models.dagbag import DBDagBag

    run = ti.dag_run
    if run is None:
        return
    if run.id not in cache:
        try:
            cache[run.id] = DBDagBag().get_dag_for_run(run, session=session)
        except Exception:  # a run whose DAG version is gone still has readable log files
            cache[run.id] = None
    dag = cache[run.id]
    if dag is not None:
        with contextlib.suppress(TaskNotFound):
            ti.task = dag.get_task(ti.task_id)


def _messages(ti: Any, try_number: int) -> list[Any]:
    from airflow.utils.log.log_reader import TaskLogReader

    reader = TaskLogReader()
    metadata: Any = {"download_logs": True}  # what the core log route passes for a full download
    chunks, _ = reader.read_log_chunks(ti, try_number, metadata)
    return list(chunks)


def render(messages: list[Any]) -> str:
    """The log text of one attempt: ``[timestamp] LEVEL - event`` per record, source header dropped."""
    lines: list[str] = []
    in_header = False
    for msg in messages:
        event = str(getattr(msg, "event", msg))
        if event == _HEADER_START:
            in_header = True
            continue
        if in_header:
            in_header = event != _HEADER_END
            continue
        ts = getattr(msg, "timestamp", None)
        level = getattr(msg, "level", None)
        prefix = f"[{ts.isoformat()}] " if isinstance(ts, datetime) else ""
        prefix += f"{str(level).upper()} - " if level else ""
        lines.append(prefix + event)
        for detail in getattr(msg, "error_detail", None) or []:  # exceptions logged by the task
            if isinstance(detail, dict):
                lines.append(f"{detail.get('exc_type', 'Error')}: {detail.get('exc_value', '')}")
    return "\n".join(lines) + ("\n" if lines else "")


def log_text(ti: Any, try_number: int) -> str:
    """The full log text of one task attempt (empty when the handler has none)."""
    try:
        return render(_messages(ti, try_number))
    except Exception:  # an unreachable worker log server must not fail the whole request
        log.warning("Could not read the log of %s try %s", ti.task_id, try_number, exc_info=True)
        return ""


def error_from_log(ti: TaskInstance, *, session: Session) -> str | None:
    """The last error recorded in a failed task's log: the exception if one was logged, else the line."""
    try:
        _attach_task(ti, session=session, cache={})
        messages = _messages(ti, ti.try_number)
    except Exception:
        return None
    for msg in reversed(messages):
        details = getattr(msg, "error_detail", None)
        if details:
            last = details[-1] if isinstance(details, list) else details
            if isinstance(last, dict) and last.get("exc_value") is not None:
                return f"{last.get('exc_type', 'Error')}: {last['exc_value']}"[:2000]
        level = str(getattr(msg, "level", "") or "").lower()
        if level in ("error", "critical"):
            return str(getattr(msg, "event", ""))[:2000]
    return None


def log_file(ti: Any, try_number: int) -> str:
    """The attempt's log path relative to the log folder (as Airflow names it)."""
    try:
        from airflow.utils.log.log_reader import TaskLogReader

        return TaskLogReader().log_handler._render_filename(ti, try_number)
    except Exception:  # non-file handlers: use Airflow's default template
        return f"dag_id={ti.dag_id}/run_id={ti.run_id}/task_id={ti.task_id}/attempt={try_number}.log"


def log_rows(
    dag_id: str,
    *,
    days: int,
    queries: dict[str, str],
    session: Session,
    now: datetime | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """One row per task attempt of the runs started in the last ``days`` days.

    :param queries: task id -> query text for the job's query tasks (pre/post job rows get a null Query)
    :param run_id: only this run (``days`` is then ignored): the Sync Jobs page's log of one run
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    since = (now or datetime.now(UTC)) - timedelta(days=days)
    which = DagRun.run_id == run_id if run_id is not None else DagRun.run_after >= since
    runs = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, which).order_by(DagRun.id)).all()
    if not runs:
        return []
    run_ids = [r.run_id for r in runs]
    attempts: list[tuple[Any, int]] = []
    tis = session.scalars(
        select(TaskInstance)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(run_ids), TaskInstance.try_number > 0)
        .where(TaskInstance.task_id != _NO_LOG)
        .options(joinedload(TaskInstance.dag_run))
    ).all()
    attempts.extend((ti, ti.try_number) for ti in tis)
    older: list[TaskInstanceHistory] = list(
        session.scalars(
            select(TaskInstanceHistory)
            .where(TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.run_id.in_(run_ids))
            .options(joinedload(TaskInstanceHistory.dag_run))
        ).all()
    )
    seen = {(ti.run_id, ti.task_id, ti.try_number) for ti, _ in attempts}
    attempts.extend((h, h.try_number) for h in older if (h.run_id, h.task_id, h.try_number) not in seen)
    order = {rid: i for i, rid in enumerate(run_ids)}
    task_pos = {tid: i for i, tid in enumerate(queries)}
    attempts.sort(
        key=lambda a: (
            order[a[0].run_id],
            _TASK_ORDER.get(a[0].task_id, 1),
            task_pos.get(a[0].task_id, 0),
            a[0].task_id,
            a[1],
        )
    )
    cache: dict[int, Any] = {}
    start = {r.run_id: iso(r.start_date or r.queued_at) for r in runs}
    rows = []
    for ti, try_number in attempts:
        _attach_task(ti, session=session, cache=cache)
        text = log_text(ti, try_number)
        rows.append(
            {
                "JobName": job_name_for(dag_id),
                "RunId": ti.run_id,
                "Query": queries.get(ti.task_id),
                "TaskId": ti.task_id,
                "Try": wire_str(try_number),
                "RunStartDate": start.get(ti.run_id),
                "LogFile": log_file(ti, try_number),
                "Content": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            }
        )
    return rows

"""Result rows of executeJob / executeQuery / getJobStatus, computed from DagRun, TaskInstance and XCom.

Status vocabulary (job-api.md §4): ``NOT STARTED``, ``QUEUED``, ``RUNNING``, ``SUCCESS``, ``FAILED``,
``CANCELLED``, ``SKIPPED``. A query task's XCom ``return_value`` is the engine's
``ReplicationSummary.to_dict()`` (``records_affected`` ...). A failed query's error text is the XCom key
``error`` when the operator pushed one, else the last error line of its task log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_sync.api.services.common import iso, job_name_for, wire_str
from airflow_sync.api.services.runs import is_cancelled

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

PRE_JOB, POST_JOB = "pre_job", "post_job"
#: XCom key under which a failing task may leave its error message for the API
ERROR_XCOM_KEY = "error"

_TI_STATUS = {
    None: "QUEUED",
    "none": "QUEUED",
    "scheduled": "QUEUED",
    "queued": "QUEUED",
    "up_for_reschedule": "RUNNING",
    "deferred": "RUNNING",
    "awaiting_input": "RUNNING",
    "running": "RUNNING",
    "restarting": "RUNNING",
    "up_for_retry": "RUNNING",
    "success": "SUCCESS",
    "failed": "FAILED",
    "upstream_failed": "FAILED",
    "skipped": "SKIPPED",
    "removed": "SKIPPED",
}
_HISTORY_STATUS = {
    "QUEUED": "Queued",
    "RUNNING": "Running",
    "SUCCESS": "Successful",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
    "NOT STARTED": "Not Started",
}
RESULT_FIELDS = (
    "JobName",
    "RunId",
    "Query",
    "Status",
    "Result",
    "Detail",
    "RecordsAffected",
    "RunStartDate",
    "RunEndDate",
)


@dataclass
class RunInfo:
    """What the readers need about one run: its task instances, query summaries and error texts."""

    run: DagRun
    tis: dict[str, TaskInstance] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def records(self) -> int:
        total = 0
        for summary in self.summaries.values():
            value = summary.get("records_affected")
            if isinstance(value, int | float):
                total += int(value)
        return total

    def query_tis(self) -> list[TaskInstance]:
        return [ti for tid, ti in sorted(self.tis.items()) if tid not in (PRE_JOB, POST_JOB)]


def run_status(run: DagRun | None) -> str:
    """A run's state in the action-row vocabulary."""
    if run is None:
        return "NOT STARTED"
    state = str(run.state) if run.state is not None else "queued"
    if is_cancelled(run):
        return "CANCELLED"
    return {"queued": "QUEUED", "running": "RUNNING", "success": "SUCCESS", "failed": "FAILED"}.get(
        state, "QUEUED"
    )


def history_status(run: DagRun | None) -> str:
    """A run's state in the History / jobs vocabulary (``Successful``, ``Cancelled`` ...)."""
    return _HISTORY_STATUS[run_status(run)]


def ti_status(ti: TaskInstance | None, run: DagRun, *, has_error: bool) -> str:
    """A query task's state; a task stopped by cancelJob (failed, no error of its own) is CANCELLED."""
    if ti is None:
        return "NOT STARTED" if run_status(run) in ("SUCCESS", "FAILED", "CANCELLED") else "QUEUED"
    status = _TI_STATUS.get(str(ti.state) if ti.state is not None else None, "QUEUED")
    if status == "FAILED" and is_cancelled(run) and not has_error:
        return "CANCELLED"
    return status


def load_run_info(runs: Sequence[DagRun], *, session: Session) -> dict[int, RunInfo]:
    """Task instances and XComs of several runs, in two queries (keyed by ``DagRun.id``)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, or_, select

    infos = {run.id: RunInfo(run) for run in runs}
    if not runs:
        return infos
    by_key = {(run.dag_id, run.run_id): run.id for run in runs}
    for chunk in _chunks(list(by_key), 200):
        cond = or_(*(and_(TaskInstance.dag_id == d, TaskInstance.run_id == r) for d, r in chunk))
        for ti in session.scalars(select(TaskInstance).where(cond, TaskInstance.map_index == -1)):
            infos[by_key[(ti.dag_id, ti.run_id)]].tis[ti.task_id] = ti
    ids = list(infos)
    for chunk_ids in _chunks(ids, 500):
        rows = session.execute(
            select(XComModel.dag_run_id, XComModel.task_id, XComModel.key, XComModel.value).where(
                XComModel.dag_run_id.in_(chunk_ids),
                XComModel.key.in_(("return_value", ERROR_XCOM_KEY)),
                XComModel.map_index == -1,
            )
        )
        for dag_run_id, task_id, key, raw in rows:
            value = XComModel.deserialize_value(_Raw(raw))
            info = infos[dag_run_id]
            if key == ERROR_XCOM_KEY and value:
                info.errors[task_id] = _error_text(value)
            elif key == "return_value" and isinstance(value, dict) and task_id not in (PRE_JOB, POST_JOB):
                info.summaries[task_id] = value
    return infos


@dataclass
class _Raw:
    value: Any


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _error_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("message") or value.get("error") or value)
    return str(value)


def fill_errors_from_logs(info: RunInfo, *, session: Session) -> None:
    """For failed tasks without an ``error`` XCom, take the error from the tail of their task log."""
    from airflow_sync.api.services.logs import error_from_log

    for task_id, ti in info.tis.items():
        if task_id in info.errors or str(ti.state) not in ("failed",):
            continue
        if is_cancelled(info.run):  # a cancel kills the task: its log holds the kill, not an error
            continue
        text = error_from_log(ti, session=session)
        if text:
            info.errors[task_id] = text


def job_row(job_name: str, info: RunInfo | None, *, n_queries: int) -> dict[str, Any]:
    """The job-level result row (``Query`` null) of a job's latest (or a given) run."""
    run = info.run if info else None
    status = run_status(run)
    row: dict[str, Any] = dict.fromkeys(RESULT_FIELDS)
    row.update(JobName=job_name, Status=status)
    if run is None or info is None:
        row["Detail"] = "Not started"
        return row
    failed = [ti for ti in info.query_tis() if str(ti.state) in ("failed", "upstream_failed")]
    row.update(
        RunId=run.run_id,
        Detail=run_detail(info, n_queries=n_queries),
        RecordsAffected=wire_str(info.records()),
        RunStartDate=iso(run.start_date or run.queued_at),
        RunEndDate=iso(run.end_date) if status in ("SUCCESS", "FAILED", "CANCELLED") else None,
    )
    if status == "FAILED":
        first = next((info.errors[t] for t in (PRE_JOB, *sorted(info.errors)) if t in info.errors), None)
        row["Result"] = first or (f"{len(failed)} of {n_queries} Tasks Failed" if failed else "Run failed")
    return row


def run_detail(info: RunInfo, *, n_queries: int) -> str:
    """The one-line summary CData puts in ``Detail`` / ``Details``."""
    run = info.run
    status = run_status(run)
    if status == "QUEUED":
        return "Queued"
    if status == "RUNNING":
        return "In progress"
    if status == "SUCCESS":
        return "Completed"
    if status == "CANCELLED":
        return (run.note or "Cancelled").splitlines()[0]
    failed = sum(1 for ti in info.query_tis() if str(ti.state) in ("failed", "upstream_failed"))
    if failed:
        return f"{failed} of {n_queries} Tasks Failed"
    pre = info.tis.get(PRE_JOB)
    if pre is not None and str(pre.state) == "failed":
        return "Pre-job failed"
    return "Failed"


def query_rows(job: Job, info: RunInfo | None) -> list[dict[str, Any]]:
    """One row per query of the job, in job order, for the given run (or NOT STARTED rows)."""
    rows = []
    for task_id, text in zip(job.query_task_ids(), job.queries, strict=False):
        row: dict[str, Any] = dict.fromkeys(RESULT_FIELDS)
        row.update(JobName=job.name, Query=text)
        if info is None:
            row["Status"] = "NOT STARTED"
            rows.append(row)
            continue
        ti = info.tis.get(task_id)
        status = ti_status(ti, info.run, has_error=task_id in info.errors)
        summary = info.summaries.get(task_id)
        records = summary.get("records_affected") if summary else None
        row.update(
            RunId=info.run.run_id,
            Status=status,
            RecordsAffected=wire_str(records),
            RunStartDate=iso(ti.start_date) if ti else None,
            RunEndDate=iso(ti.end_date) if ti and status not in ("QUEUED", "RUNNING") else None,
        )
        if status == "FAILED":
            row["Result"] = info.errors.get(task_id) or "Query failed (see getLogs)"
            row["Detail"] = "Failed"
        elif status == "SUCCESS":
            row["Detail"] = f"{records if records is not None else 0} records"
        else:
            row["Detail"] = {
                "SKIPPED": "Skipped",
                "CANCELLED": "Cancelled",
                "RUNNING": "In progress",
                "QUEUED": "Queued",
                "NOT STARTED": "Not started",
            }[status]
        rows.append(row)
    return rows


def result_rows(job: Job, run: DagRun | None, *, session: Session, per_query: bool = True) -> list[dict]:
    """executeJob / getJobStatus rows for one job: the job row, then (optionally) one row per query."""
    info = None if run is None else load_run_info([run], session=session)[run.id]
    if info is not None and run_status(run) == "FAILED":
        fill_errors_from_logs(info, session=session)
    rows = [job_row(job.name, info, n_queries=len(job.queries))]
    if per_query:
        rows.extend(query_rows(job, info))
    return rows


def latest_rows_for_jobs(jobs: Sequence[Job], *, session: Session) -> list[dict[str, Any]]:
    """getJobStatus without JobName: one job-level row per job (latest run each), two queries in all."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    from airflow_sync.api.services.common import dag_id_for

    dag_ids = [dag_id_for(j.name) for j in jobs]
    latest: dict[str, DagRun] = {}
    if dag_ids:
        newest = select(func.max(DagRun.id)).where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id)
        for run in session.scalars(select(DagRun).where(DagRun.id.in_(newest))):
            latest[run.dag_id] = run
    infos = load_run_info(list(latest.values()), session=session)
    rows = []
    for job, dag_id in zip(jobs, dag_ids, strict=True):
        latest_run = latest.get(dag_id)
        info = infos[latest_run.id] if latest_run is not None else None
        rows.append(job_row(job.name, info, n_queries=len(job.queries)))
    return rows


def job_name_of(run: DagRun) -> str:
    return job_name_for(run.dag_id)

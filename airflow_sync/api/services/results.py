"""Result rows of executeJob / executeQuery / cancelJob / getJobStatus, computed from DagRun, TaskInstance,
XCom and the task state store.

The words and rules are :mod:`airflow_sync.status`'s (the e-mail and webhook use the same). What each
query committed comes from its commit records (:mod:`airflow_sync.markers`) — every try that committed
counts, and a load whose commit won over a cancel is reported as what it was. A failed task's error text is
its ``error`` XCom, else the last error line of its task log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_sync import markers
from airflow_sync import status as st
from airflow_sync.api.services.common import iso, job_name_for, wire_str
from airflow_sync.api.services.runs import is_cancelled

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

PRE_JOB, POST_JOB, NOTIFY, FINISH = "pre_job", "post_job", "notify", "finish"
EVENT_TASKS = frozenset({PRE_JOB, POST_JOB, NOTIFY, FINISH})
#: XCom key under which a failing task may leave its error message for the API
ERROR_XCOM_KEY = "error"
#: run conf key cancelJob sets (see airflow_sync.notifications.CANCELLED_BY_CONF_KEY)
_CANCELLED_BY = "cancelled_by"

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
    """What the readers need about one run: task instances, query summaries, errors, commit records."""

    run: DagRun
    tis: dict[str, TaskInstance] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    commits: dict[str, Any] = field(default_factory=dict)

    def query_ids(self, job: Job | None) -> list[str]:
        """The run's query task ids in job order: those of its task instances (the job may have changed since
        the run), else the job's (a queued run may have none yet)."""
        ran = sorted(t for t in self.tis if t not in EVENT_TASKS)
        if job is None:
            return ran
        ordered = [t for t in job.query_task_ids() if t in self.tis] if ran else list(job.query_task_ids())
        return ordered + [t for t in ran if t not in ordered]

    def query_tis(self) -> list[TaskInstance]:
        return [ti for tid, ti in sorted(self.tis.items()) if tid not in EVENT_TASKS]

    # --- facts for the status module ----------------------------------------------------------------
    def query_facts(self, task_id: str) -> st.QueryFacts:
        ti = self.tis.get(task_id)
        state = str(ti.state) if ti is not None and ti.state is not None else None
        tries = max(1, int(ti.try_number or 0)) if ti is not None else 1
        doc = self.commits.get(task_id)
        summary = self.summaries.get(task_id) or {}
        records = markers.records(doc)
        if records is None and isinstance(summary.get("records_affected"), int | float):
            records = int(summary["records_affected"])
        selection = self._conf().get("queries") or None
        return st.QueryFacts(
            state=state,
            error=self.errors.get(task_id),
            finished_load=markers.finished_load(doc, tries),
            selected=not selection or task_id in selection,
            tries=tries,
            records=records,
        )

    def run_facts(self) -> st.RunFacts:
        run = self.run
        conf = self._conf()
        cancelled_by = cancel_note = None
        if is_cancelled(run):
            cancelled_by = str(conf.get(_CANCELLED_BY) or "API")
            cancel_note = (run.note or "").splitlines()[0] if run.note else None
        pre = self.events.get(PRE_JOB) or {}
        prejob_cancel = str(pre.get("skipped_tick") or "CancelJob") if pre.get("cancel_job") else None
        notify = self.tis.get(NOTIFY)
        notify_failed = notify is not None and str(notify.state) == "failed"
        notify_error = (self.errors.get(NOTIFY) or "the notification task failed") if notify_failed else None
        return st.RunFacts(
            state=str(run.state) if run.state is not None else "queued",
            cancelled_by=cancelled_by,
            cancel_note=cancel_note,
            prejob_cancel=prejob_cancel,
            pre_state=self._state(PRE_JOB),
            pre_error=self.errors.get(PRE_JOB),
            post_state=self._state(POST_JOB),
            post_error=self.errors.get(POST_JOB),
            notify_error=notify_error,
        )

    def outcome(self, job: Job | None) -> tuple[st.RunOutcome, list[str], list[st.QueryFacts]]:
        """The run described in the vocabulary, with its query ids and facts in job order."""
        ids = self.query_ids(job)
        facts = [self.query_facts(t) for t in ids]
        retried = [t for t, f in zip(ids, facts, strict=True) if f.tries > 1 and f.state is not None]
        return st.describe_run(self.run_facts(), facts, retried=retried), ids, facts

    def records(self, job: Job | None = None) -> int:
        """Records affected by every query, over every try that committed."""
        return sum(f.records or 0 for f in (self.query_facts(t) for t in self.query_ids(job)))

    def hosts(self, job: Job | None = None) -> list[str]:
        """The hosts that ran the run's queries (every try), in job order."""
        out: list[str] = []
        for task_id in self.query_ids(job):
            ti = self.tis.get(task_id)
            for host in [*markers.hosts(self.commits.get(task_id)), getattr(ti, "hostname", None) or ""]:
                if host and host not in out:
                    out.append(host)
        return out

    def _state(self, task_id: str) -> str | None:
        ti = self.tis.get(task_id)
        return str(ti.state) if ti is not None and ti.state is not None else None

    def _conf(self) -> dict[str, Any]:
        return self.run.conf if isinstance(self.run.conf, dict) else {}


def run_status(run: DagRun | None, info: RunInfo | None = None, job: Job | None = None) -> str:
    """A run's status word (``NOT STARTED`` when there is no run)."""
    if run is None:
        return st.NOT_STARTED
    if info is None:
        info = RunInfo(run)
    return info.outcome(job)[0].status


def history_status(run: DagRun | None, info: RunInfo | None = None, job: Job | None = None) -> str:
    """A run's status in the History / jobs vocabulary (``Successful``, ``Cancelled`` ...)."""
    return st.history_word(run_status(run, info, job))


def run_detail(info: RunInfo, *, n_queries: int = 0, job: Job | None = None) -> str:
    """The one-line summary CData puts in ``Detail`` / ``Details``."""
    return info.outcome(job)[0].detail


def load_run_info(runs: Sequence[DagRun], *, session: Session) -> dict[int, RunInfo]:
    """Task instances, XComs and commit records of several runs, in three queries (keyed by ``DagRun.id``)."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import and_, or_, select

    infos = {run.id: RunInfo(run) for run in runs}
    if not runs:
        return infos
    by_key = {(run.dag_id, run.run_id): run.id for run in runs}
    for chunk in _chunks(list(by_key), 200):
        cond = or_(*(and_(TaskInstance.dag_id == d, TaskInstance.run_id == r) for d, r in chunk))
        for ti in session.scalars(select(TaskInstance).where(cond, TaskInstance.map_index == -1)):
            infos[by_key[(ti.dag_id, ti.run_id)]].tis[ti.task_id] = ti
    load_run_details(infos, session=session)
    return infos


def load_run_details(infos: dict[int, RunInfo], *, session: Session) -> None:
    """Fill the runs' XCom results (summaries, events, errors) and commit records — two queries per 500
    runs. (History pages read their task instances their own way, then call this.)"""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    for chunk_ids in _chunks(list(infos), 500):
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
            elif key == "return_value" and isinstance(value, dict):
                if task_id in EVENT_TASKS:
                    info.events[task_id] = value
                else:
                    info.summaries[task_id] = value
        for dag_run_id, task_id, doc in _commit_docs(chunk_ids, session=session):
            infos[dag_run_id].commits[task_id] = doc


def _commit_docs(dag_run_ids: list[int], *, session: Session) -> Iterable[tuple[int, str, Any]]:
    """The query tasks' commit records (task state store, metadata DB backend)."""
    import json

    from airflow.models.task_state_store import TaskStateStoreModel
    from sqlalchemy import select

    rows = session.execute(
        select(TaskStateStoreModel.dag_run_id, TaskStateStoreModel.task_id, TaskStateStoreModel.value).where(
            TaskStateStoreModel.dag_run_id.in_(dag_run_ids),
            TaskStateStoreModel.key == markers.COMMITS_KEY,
            TaskStateStoreModel.map_index == -1,
        )
    )
    for dag_run_id, task_id, raw in rows:
        try:
            yield dag_run_id, task_id, json.loads(raw)
        except (TypeError, ValueError):
            continue


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

    if is_cancelled(info.run):  # a cancel kills the tasks: their logs hold the kill, not an error
        return
    for task_id, ti in info.tis.items():
        if task_id in info.errors or str(ti.state) not in ("failed",) or task_id == FINISH:
            continue
        text = error_from_log(ti, session=session)
        if text:
            info.errors[task_id] = text


def job_row(job_name: str, info: RunInfo | None, *, n_queries: int = 0, job: Job | None = None) -> dict:
    """The job-level result row (``Query`` null) of a job's latest (or a given) run."""
    row: dict[str, Any] = dict.fromkeys(RESULT_FIELDS)
    row.update(JobName=job_name, Status=st.NOT_STARTED)
    if info is None:
        row["Detail"] = "Not started"
        return row
    run = info.run
    outcome, _, _ = info.outcome(job)
    ended = outcome.status in st.FINAL and str(run.state) in ("success", "failed")
    row.update(
        RunId=run.run_id,
        Status=outcome.status,
        Detail=outcome.detail,
        RecordsAffected=wire_str(info.records(job)),
        RunStartDate=iso(run.start_date or run.queued_at),
        RunEndDate=iso(run.end_date) if ended else None,
    )
    if outcome.status == st.FAILED:
        row["Result"] = outcome.result
    return row


def query_rows(job: Job, info: RunInfo | None) -> list[dict[str, Any]]:
    """One row per query of the job, in job order, for the given run (or NOT STARTED rows)."""
    rows = []
    run_facts = info.run_facts() if info is not None else None
    for task_id, text in zip(job.query_task_ids(), job.queries, strict=False):
        row: dict[str, Any] = dict.fromkeys(RESULT_FIELDS)
        row.update(JobName=job.name, Query=text)
        if info is None or run_facts is None:
            row.update(Status=st.NOT_STARTED, Detail="Not started")
            rows.append(row)
            continue
        ti = info.tis.get(task_id)
        facts = info.query_facts(task_id)
        status = st.query_status(facts, run_facts)
        row.update(
            RunId=info.run.run_id,
            Status=status,
            Detail=st.query_detail(facts, run_facts, status),
            RecordsAffected=wire_str(facts.records),
            RunStartDate=iso(ti.start_date) if ti else None,
            RunEndDate=iso(ti.end_date) if ti and status not in (st.QUEUED, st.RUNNING) else None,
        )
        if status == st.FAILED:
            row["Result"] = facts.error or "Query failed (see getLogs)"
        rows.append(row)
    return rows


def result_rows(job: Job, run: DagRun | None, *, session: Session, per_query: bool = True) -> list[dict]:
    """executeJob / getJobStatus rows for one job: the job row, then (optionally) one row per query."""
    info = None if run is None else load_run_info([run], session=session)[run.id]
    if info is not None and run is not None and str(run.state) == "failed":
        fill_errors_from_logs(info, session=session)
    rows = [job_row(job.name, info, job=job)]
    if per_query:
        rows.extend(query_rows(job, info))
    return rows


def latest_rows_for_jobs(jobs: Sequence[Job], *, session: Session) -> list[dict[str, Any]]:
    """getJobStatus without JobName: one job-level row per job (latest run each), three queries in all."""
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
        rows.append(job_row(job.name, info, job=job))
    return rows


def job_name_of(run: DagRun) -> str:
    return job_name_for(run.dag_id)

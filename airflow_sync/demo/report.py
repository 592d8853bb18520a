"""Trigger a job's DAG and read back what its run did, straight from the metadata DB (in-process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

FINISHED = ("success", "failed")


@dataclass
class QueryResult:
    """One query task of a run.

    :param task_id: the query's task id
    :param query: the REPLICATE text
    :param state: task state (``success``, ``failed``, ``skipped``, None = not scheduled yet)
    :param summary: the task's return value (``ReplicationSummary.to_dict()``), if it finished
    """

    task_id: str
    query: str
    state: str | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    """A DAG run and its query tasks."""

    dag_id: str
    run_id: str
    state: str
    seconds: float | None
    queries: list[QueryResult]
    other_tasks: dict[str, str | None]


def dag_ready(dag_id: str, since: datetime | None = None) -> bool:
    """Whether the DAG has been parsed and serialized (and is not stale).

    :param dag_id: the DAG id
    :param since: require a parse at or after this time (a job change must reach the DAG first)
    """
    from airflow.models.dag import DagModel
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        dm = s.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
        if dm is None or dm.is_stale:
            return False
        if since is not None and (dm.last_parsed_time is None or dm.last_parsed_time < since):
            return False
        return (
            s.scalar(select(SerializedDagModel.id).where(SerializedDagModel.dag_id == dag_id).limit(1))
            is not None
        )


def import_errors() -> list[str]:
    """Current DAG import errors (file: first line of the error), for failure messages."""
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        rows = s.scalars(select(ParseImportError)).all()
        return [f"{r.filename}: {(r.stacktrace or '').strip().splitlines()[-1:]}" for r in rows]


def fail_active_runs(dag_id: str) -> list[str]:
    """Mark queued/running runs of a DAG failed (leftovers of an interrupted demo); returns their run ids.

    :param dag_id: the DAG id
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    with create_session() as s:
        runs = s.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag_id, DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING])
            )
        ).all()
        for run in runs:
            for ti in s.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            ):
                if ti.state not in (
                    TaskInstanceState.SUCCESS,
                    TaskInstanceState.FAILED,
                    TaskInstanceState.SKIPPED,
                ):
                    ti.state = TaskInstanceState.FAILED
            run.state = DagRunState.FAILED
        return [r.run_id for r in runs]


def trigger(job: Job, *, user: str = "airflow-sync") -> str:
    """Unpause the job's DAG and start a manual run carrying the job version (design D10).

    :param job: the stored job
    :param user: recorded as the triggering user
    :return: the run id
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import update

    dag_id = job.dag_id()
    with create_session() as s:
        s.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))
        run = trigger_dag(
            dag_id,
            triggered_by=DagRunTriggeredByType.CLI,
            triggering_user_name=user,
            conf={"job_version": job.version},
            session=s,
        )
        if run is None:
            raise RuntimeError(f"Airflow did not create a run for {dag_id}")
        return str(run.run_id)


def read_run(job: Job, run_id: str) -> RunReport:
    """The run's state and every task's state and return value.

    :param job: the job (for query order and texts)
    :param run_id: the run
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_id = job.dag_id()
    with create_session() as s:
        run = s.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            raise RuntimeError(f"run {run_id} of {dag_id} not found")
        states = {
            ti.task_id: (str(ti.state) if ti.state else None)
            for ti in s.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            )
        }
        values: dict[str, Any] = {}
        xcoms: list[Any] = list(
            s.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id, key="return_value"))
        )
        for x in xcoms:
            values[x.task_id] = XComModel.deserialize_value(x)
        seconds = (run.end_date - run.start_date).total_seconds() if run.end_date and run.start_date else None
        state = str(run.state)
    task_ids = job.query_task_ids()
    queries = []
    for tid, q in zip(task_ids, job.queries, strict=True):
        value = values.get(tid)
        queries.append(QueryResult(tid, q, states.get(tid), value if isinstance(value, dict) else {}))
    others = {k: v for k, v in states.items() if k not in task_ids}
    return RunReport(dag_id, run_id, state, seconds, queries, others)


def wait_for_run(
    job: Job,
    run_id: str,
    *,
    timeout: float = 600,
    on_change: Callable[[str, str | None], None] | None = None,
    alive: Callable[[], None] | None = None,
) -> RunReport:
    """Poll until the run finishes.

    :param job: the job
    :param run_id: the run
    :param timeout: seconds
    :param on_change: called with ``(task_id, state)`` whenever a task changes state
    :param alive: called every poll; raises when a needed component died
    :raises TimeoutError: the run did not finish in time
    """
    seen: dict[str, str | None] = {}
    t0 = time.monotonic()
    while True:
        report = read_run(job, run_id)
        current = {q.task_id: q.state for q in report.queries} | report.other_tasks
        for task_id, state in current.items():
            if state is not None and seen.get(task_id) != state and on_change is not None:
                on_change(task_id, state)
        seen = current
        if report.state in FINISHED:
            return report
        if alive is not None:
            alive()
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"run {run_id} still {report.state} after {timeout:.0f} s")
        time.sleep(1)

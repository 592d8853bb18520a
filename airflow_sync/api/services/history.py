"""History rows: one per DagRun of a Sync DAG, whoever started it (API, scheduler, Airflow UI).

Runs of deleted jobs stay (Airflow keeps DagRuns when a DAG goes stale); their ``JobName`` comes from the
DAG id and their ``JobId`` from the run conf the API wrote at trigger time, else from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_sync.api.services.common import dag_id_for, hhmmss, iso, job_name_for, prefix, wire_str
from airflow_sync.api.services.results import RunInfo, load_run_info

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

HISTORY_FIELDS = (
    "Id",
    "RunId",
    "JobId",
    "JobName",
    "RunStartDate",
    "RunEndDate",
    "Status",
    "Details",
    "Runtime",
    "RecordsAffected",
    "RunType",
    "LogFile",
    "InstanceId",
)


def sync_runs(*, job_name: str | None, session: Session) -> Sequence[DagRun]:
    """DagRuns of Sync DAGs (all, or one job's), newest first."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    stmt = select(DagRun)
    if job_name is not None:
        stmt = stmt.where(DagRun.dag_id == dag_id_for(job_name))
    else:  # autoescape: the default prefix contains "_", a LIKE wildcard
        stmt = stmt.where(DagRun.dag_id.startswith(prefix(), autoescape=True))
    return session.scalars(stmt.order_by(DagRun.id.desc())).all()


def history_row(info: RunInfo, *, job: Job | None, now: datetime) -> dict[str, Any]:
    """The CData History row of one run."""
    from airflow_sync import status as st

    run = info.run
    outcome, _, _ = info.outcome(job)
    status = st.history_word(outcome.status)
    start = run.start_date
    finished = status in ("Successful", "Failed", "Cancelled")
    end = run.end_date if finished else None
    runtime = None
    if start is not None:
        runtime = (end or (now if not finished else start)) - start
    conf = run.conf if isinstance(run.conf, dict) else {}
    job_id = conf.get("job_id") or (job.job_id if job is not None else None)
    # the host(s) that ran the queries (every try); a run without query work names its PreJob's host
    hosts = info.hosts(job) or [ti.hostname for ti in info.tis.values() if ti.hostname][:1]
    return {
        "Id": str(run.id),
        "RunId": run.run_id,
        "JobId": wire_str(job_id),
        "JobName": job_name_for(run.dag_id),
        "RunStartDate": iso(start or run.queued_at),
        "RunEndDate": iso(end),
        "Status": status,
        "Details": outcome.detail,
        "Runtime": hhmmss(runtime),
        "RecordsAffected": wire_str(info.records(job)),
        "RunType": "scheduled" if str(run.run_type) in ("scheduled", "backfill") else "manual",
        "LogFile": f"dag_id={run.dag_id}/run_id={run.run_id}",
        "InstanceId": ", ".join(hosts),
    }


def history_rows(
    *,
    job_name: str | None,
    readable: Callable[[set[str]], set[str]],
    jobs_by_name: dict[str, Job],
    session: Session,
) -> list[dict[str, Any]]:
    """All history rows the caller may read, newest first.

    :param readable: the subset of the given DAG ids the caller may read (one auth-manager call)
    """
    all_runs = sync_runs(job_name=job_name, session=session)
    allowed = readable({run.dag_id for run in all_runs})
    runs = [run for run in all_runs if run.dag_id in allowed]
    infos = load_run_info(runs, session=session)
    now = datetime.now(UTC)
    return [
        history_row(infos[run.id], job=jobs_by_name.get(job_name_for(run.dag_id)), now=now) for run in runs
    ]

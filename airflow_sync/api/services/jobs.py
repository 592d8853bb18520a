"""The jobs entity set: job entities with their DAG/run metadata, and create / modify / delete.

The store (one Airflow Variable per job) is the source of truth; this module adds what the API shows
beside the stored fields (``Status``, ``DagId``, ``LastRun``, ``NextRun``, ``Can*``) and enforces the API
rules around writes: no change while a run is queued or running, optimistic concurrency on modify, and a
reparse request so the DAG follows within seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_sync.api.services.common import dag_id_for, iso, lock_dag, resolve_job, wire_str
from airflow_sync.api.services.results import history_status, load_run_info
from airflow_sync.exceptions import JobConflictError, JobRunningError, JobValidationError

if TYPE_CHECKING:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

_ODATA_PREFIX = "@odata."


def clean_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Drop OData annotations a client may echo back and refuse a workspace other than ``default``.

    Read-only entity fields (``Status``, ``DagId``, ``Can*`` ...) are ignored by the job model itself.

    :raises JobValidationError: naming ``WorkspaceId`` for a non-default workspace
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith(_ODATA_PREFIX):
            continue
        if key.lower() == "workspaceid" and value not in (None, "", "default"):
            raise JobValidationError(
                f"WorkspaceId '{value}' does not exist; only the 'default' workspace is served",
                field="WorkspaceId",
            )
        out[key] = value
    return out


def _dag_models(dag_ids: Sequence[str], *, session: Session) -> dict[str, DagModel]:
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    if not dag_ids:
        return {}
    return {dm.dag_id: dm for dm in session.scalars(select(DagModel).where(DagModel.dag_id.in_(dag_ids)))}


def _latest_runs(dag_ids: Sequence[str], *, session: Session) -> dict[str, DagRun]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    if not dag_ids:
        return {}
    newest = select(func.max(DagRun.id)).where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id)
    return {run.dag_id: run for run in session.scalars(select(DagRun).where(DagRun.id.in_(newest)))}


def next_run_time(job: Job, dm: DagModel | None) -> Any:
    """When the job's next scheduled run will be created — the time Airflow itself uses.

    Airflow's ``next_dagrun_create_after`` once the DAG of the current schedule is parsed; until then (a new
    job, or a schedule changed a moment ago) the time Airflow computes at that parse, from the stored job
    (:func:`airflow_sync.dags.schedule.expected_next_run`). None when unscheduled or the DAG is paused
    or gone.
    """
    from airflow_sync.dags.schedule import expected_next_run, start_date

    if job.schedule is None:
        return None
    if dm is None:
        return expected_next_run(job)
    if dm.is_paused or dm.is_stale:
        return None
    parsed = dm.last_parsed_time
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=start_date(job).tzinfo)
    outdated = dm.timetable_summary != job.schedule or parsed is None or parsed < start_date(job)
    return expected_next_run(job) if outdated else dm.next_dagrun_create_after


def entities(
    jobs: Sequence[Job], *, allowed: Callable[[Any, str], bool], session: Session
) -> list[dict[str, Any]]:
    """Wire entities for jobs: stored fields + Status/DagId/LastRun/NextRun/Can* (three queries in all).

    :param allowed: ``allowed(action, dag_id)`` of the caller, for the ``Can*`` flags
    """
    dag_ids = [dag_id_for(j.name) for j in jobs]
    models = _dag_models(dag_ids, session=session)
    latest = _latest_runs(dag_ids, session=session)
    infos = load_run_info(list(latest.values()), session=session)  # Status follows the runs' outcomes
    out = []
    for job, dag_id in zip(jobs, dag_ids, strict=True):
        entity = dict(job.to_wire())
        entity.setdefault("JobId", job.job_id)
        entity.setdefault("Type", "Standard")
        run = latest.get(dag_id)
        dm = models.get(dag_id)
        next_run = next_run_time(job, dm)
        entity.update(
            Status=history_status(run, infos.get(run.id) if run is not None else None, job),
            DagId=dag_id,
            LastRun=iso((run.start_date or run.queued_at) if run is not None else None),
            NextRun=iso(next_run),
            CanUpdate=wire_str(allowed("edit", dag_id)),
            CanRemove=wire_str(allowed("edit", dag_id)),
            CanExecute=wire_str(allowed("run", dag_id)),
            Version=job.version,
        )
        out.append(entity)
    return out


def create(body: Mapping[str, Any], *, session: Session) -> Job:
    """Validate and store a new job, and ask the dag-processor to parse its DAG now.

    :raises JobValidationError: bad fields (400), :class:`JobExistsError` (409)
    """
    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    job = Job.from_wire(clean_body(body))
    created = store.create_job(job, session=session)
    return created


def _check_version(job: Job, expected_versions: Sequence[str]) -> None:
    for expected in expected_versions:
        if expected != job.version:
            raise JobConflictError(
                f"Job '{job.name}' was changed since you read it (your version {expected[:64]!r}, now "
                f"{job.version!r}); reload it and apply your change again"
            )


def modify(
    key: str, body: Mapping[str, Any], *, expected_versions: Sequence[str] = (), session: Session
) -> Job:
    """Apply a partial update (only sent fields change; any ``Query#N`` replaces the query list).

    The job's DAG row is locked first, so a concurrent executeJob either sees the new version or makes
    this call fail with JobRunning; the store's ``expected_version`` check makes a concurrent modify fail
    with JobConflict instead of silently overwriting it.

    :param expected_versions: the versions the caller's edit is based on (If-Match, ``Version``); each must
        be the stored one
    :raises JobRunningError: a run is queued or running (nothing changed)
    :raises JobConflictError: the stored job is not ``expected_versions`` (nothing changed)
    """
    from airflow_sync.jobs import store

    current = resolve_job(key, session=session)
    _check_version(current, expected_versions)
    changes = clean_body(body)
    dag_id = dag_id_for(current.name)
    lock_dag(dag_id, session=session)
    if store.job_is_running(dag_id, session=session):
        raise JobRunningError(f"Job '{current.name}' is running; modify it after the run ends or cancel it")
    updated = current.patched(changes)
    saved = store.update_job(updated, expected_version=current.version, session=session)
    return saved


def delete(key: str, *, expected_versions: Sequence[str] = (), session: Session) -> Job:
    """Remove the job (its DAG is paused at once and disappears from the UI; history stays).

    :param expected_versions: delete only this version (If-Match)
    :raises JobRunningError: a run is queued or running (nothing changed)
    :raises JobConflictError: the stored job is not ``expected_versions``
    """
    from airflow_sync.jobs import store

    job = resolve_job(key, session=session)
    _check_version(job, expected_versions)
    dag_id = dag_id_for(job.name)
    lock_dag(dag_id, session=session)
    if store.job_is_running(dag_id, session=session):
        raise JobRunningError(f"Job '{job.name}' is running; delete it after the run ends or cancel it")
    store.delete_job(job.name, session=session)
    return job

"""The jobs entity set: job entities with their DAG/run metadata, and create / modify / delete.

The store (one Airflow Variable per job) is the source of truth; this module adds what the API shows
beside the stored fields (``Status``, ``DagId``, ``LastRun``, ``NextRun``, ``Can*``) and enforces the API
rules around writes: no change while a run is queued or running, optimistic concurrency on modify, and a
reparse request so the DAG follows within seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from airflow_sync.api.odata_sql import EnumField, SqlField, fields_of, translate
from airflow_sync.api.services.common import dag_id_for, iso, lock_dag, prefix, resolve_job, wire_str
from airflow_sync.api.services.results import history_status
from airflow_sync.exceptions import JobConflictError, JobRunningError, JobValidationError

if TYPE_CHECKING:
    from airflow.models.dag import DagModel
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


def _dag_models(dag_ids: Sequence[str], *, session: Session) -> dict[str, Any]:
    """The DagModel columns an entity shows (NextRun, paused, stale) per DAG — rows, not ORM objects."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    if not dag_ids:
        return {}
    cols = (
        DagModel.dag_id,
        DagModel.is_paused,
        DagModel.is_stale,
        DagModel.next_dagrun_create_after,
        DagModel.timetable_summary,
        DagModel.last_parsed_time,
    )
    out: dict[str, Any] = {}
    for scope in _scopes(DagModel.dag_id, dag_ids):
        rows = session.execute(select(*cols).where(scope))
        out.update((row.dag_id, row) for row in rows)
    return out


def _latest_runs(dag_ids: Sequence[str], jobs: Mapping[str, Job], *, session: Session) -> dict[str, Any]:
    """``(History Status, LastRun)`` of the newest run of each DAG that has one.

    The status comes from SQL where the run's state and note decide it (:func:`history_sql.status_cases`,
    derived from the status module); the few runs only their outcome decides (a cancelled run whose queries
    may have finished, a run the PreJob may have cancelled) are read in full, as
    :func:`results.history_status` needs them.

    :param jobs: DAG id -> job (a run's outcome is described with its job's query order)
    """
    from airflow.models.dagrun import DagRun, DagRunNote
    from sqlalchemy import DateTime, case, func, select, type_coerce
    from sqlalchemy.orm import selectinload

    from airflow_sync.api.services.history_sql import load_run_infos, prejob_runs, run_status_cases

    prejob = prejob_runs()
    cases = run_status_cases()
    which = case(*((cond, n) for n, (cond, _) in enumerate(cases or ())), else_=-1)
    # plain timestamps: Airflow's UtcDateTime conversion per value adds up over 1,000 jobs
    started = type_coerce(func.coalesce(DagRun.start_date, DagRun.queued_at), DateTime(timezone=True))
    out: dict[str, Any] = {}
    undecided: list[int] = []
    for scope in _scopes(DagRun.dag_id, dag_ids):
        newest = select(func.max(DagRun.id)).where(scope).group_by(DagRun.dag_id)
        rows = session.execute(
            select(DagRun.dag_id, DagRun.id, which, started)
            .outerjoin(DagRunNote, DagRunNote.dag_run_id == DagRun.id)
            .outerjoin(prejob, prejob.c.dag_run_id == DagRun.id)
            .where(DagRun.id.in_(newest))
        )
        for dag_id, run_pk, n, start in rows:
            words = cases[n][1] if cases and n >= 0 else frozenset()
            out[dag_id] = (next(iter(words)) if len(words) == 1 else None, _utc(start))
            if len(words) != 1:
                undecided.append(run_pk)
    if undecided:  # only the run's outcome tells
        runs = list(
            session.scalars(
                select(DagRun).where(DagRun.id.in_(undecided)).options(selectinload(DagRun.dag_run_note))
            )
        )
        infos = load_run_infos(runs, session=session)
        for run in runs:
            out[run.dag_id] = (history_status(run, infos[run.id], jobs.get(run.dag_id)), out[run.dag_id][1])
    return out


def _utc(value: Any) -> Any:
    if value is None or value.tzinfo is None:
        return value  # naive: UTC already (iso() marks it so)
    return value.astimezone(UTC)


def _scopes(column: Any, dag_ids: Sequence[str]) -> list[Any]:
    """WHERE clauses selecting (at least) ``dag_ids``: IN lists of at most 500, or — for many ids — every
    Sync DAG (one scan beats several long IN lists; the caller picks its ids out of the result)."""
    if len(dag_ids) > _MANY:
        return [column.startswith(prefix(), autoescape=True)]
    ids = list(dag_ids)
    return [column.in_(ids[i : i + 500]) for i in range(0, len(ids), 500)]


_MANY = 200


def job_sql_fields() -> dict[str, SqlField | EnumField]:
    """The job entity fields with a SQL form over the job's Variable row and its DAG's newest run
    (:func:`matching_names` joins them): ``JobName``, ``Status``, ``LastRun``."""
    from airflow.models.dagrun import DagRun
    from airflow.models.variable import Variable
    from sqlalchemy import and_, func, type_coerce

    from airflow_sync.api.services.history_sql import run_status_cases
    from airflow_sync.jobs.store import VARIABLE_PREFIX

    fields: dict[str, SqlField | EnumField] = {
        "JobName": SqlField(
            func.substr(Variable.key, len(VARIABLE_PREFIX) + 1),
            "string",
            key=Variable.key,
            key_prefix=VARIABLE_PREFIX,
        ),
        "LastRun": SqlField(
            type_coerce(func.coalesce(DagRun.start_date, DagRun.queued_at), DagRun.start_date.type),
            "datetime",
        ),
    }
    cases = run_status_cases()
    if cases is not None:
        never = (DagRun.id.is_(None), frozenset({history_status(None)}))
        fields["Status"] = EnumField((never, *((and_(DagRun.id.is_not(None), c), w) for c, w in cases)))
    return fields


def matching_names(
    flt: Any, *, session: Session, schema: Mapping[str, str] | None = None
) -> list[str] | None:
    """The names of the jobs a ``$filter`` can match, narrowed by the database (a superset: the caller
    evaluates the filter on the entities), or None when the database cannot narrow it (every job).

    :param flt: the parsed filter (None: no filter)
    :param schema: the entity's field types
    """
    from airflow.models.dagrun import DagRun, DagRunNote
    from airflow.models.variable import Variable
    from sqlalchemy import func, literal, select
    from sqlalchemy.sql.elements import True_

    from airflow_sync.api.services.history_sql import prejob_runs
    from airflow_sync.jobs.store import VARIABLE_PREFIX

    if flt is None:
        return None
    where = translate(flt, job_sql_fields(), session.get_bind().dialect.name, schema).possible
    if isinstance(where, True_):  # nothing the database can narrow
        return None
    stmt = select(Variable.key).where(Variable.key.startswith(VARIABLE_PREFIX, autoescape=True), where)
    if fields_of(flt) & {"Status", "LastRun"}:  # the newest run of each job's DAG, joined by DAG id
        name = func.substr(Variable.key, len(VARIABLE_PREFIX) + 1)
        newest = (
            select(DagRun.dag_id, func.max(DagRun.id).label("pk"))
            .where(DagRun.dag_id.startswith(prefix(), autoescape=True))
            .group_by(DagRun.dag_id)
            .subquery()
        )
        prejob = prejob_runs()
        stmt = (
            stmt.outerjoin(newest, newest.c.dag_id == literal(prefix()) + name)
            .outerjoin(DagRun, DagRun.id == newest.c.pk)
            .outerjoin(DagRunNote, DagRunNote.dag_run_id == DagRun.id)
            .outerjoin(prejob, prejob.c.dag_run_id == DagRun.id)
        )
    return [key[len(VARIABLE_PREFIX) :] for key in session.scalars(stmt)]


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
    jobs: Sequence[Job],
    *,
    allowed: Callable[[Any, str], bool],
    session: Session,
    allowed_many: Callable[[Any, list[str]], set[str]] | None = None,
) -> list[dict[str, Any]]:
    """Wire entities for jobs: stored fields + Status/DagId/LastRun/NextRun/Can* (two queries).

    :param allowed: ``allowed(action, dag_id)`` of the caller, for the ``Can*`` flags
    :param allowed_many: ``allowed_many(action, dag_ids)`` -> the allowed subset, one call for all (lists)
    """
    dag_ids = [dag_id_for(j.name) for j in jobs]
    editable = (
        set(allowed_many("edit", dag_ids)) if allowed_many else {d for d in dag_ids if allowed("edit", d)}
    )
    models = _dag_models(dag_ids, session=session)
    latest = _latest_runs(dag_ids, dict(zip(dag_ids, jobs, strict=True)), session=session)
    not_started = history_status(None)
    out = []
    for job, dag_id in zip(jobs, dag_ids, strict=True):
        entity = dict(job.wire)
        entity.setdefault("JobId", job.job_id)
        entity.setdefault("Type", "Standard")
        status, last_run = latest.get(dag_id) or (not_started, None)
        dm = models.get(dag_id)
        next_run = next_run_time(job, dm)
        entity.update(
            Status=status,
            DagId=dag_id,
            LastRun=iso(last_run),
            NextRun=iso(next_run),
            CanUpdate=wire_str(dag_id in editable),
            CanRemove=wire_str(dag_id in editable),
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

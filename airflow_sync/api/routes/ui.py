"""What the Sync Jobs page needs beyond CData's surface: its bundle and icon, and three small read actions.

- ``GET /ui/<file>``: the built bundle (:mod:`airflow_sync.www`) and the nav icons, for any signed-in caller
  (the Airflow UI imports the bundle with its session cookie).
- ``GET /permissions``: who is signed in and whether they may create jobs (per-job flags are on each job).
- ``POST /previewSchedule {ScheduledCron, Count?}``: the next run times of a cron as Airflow will fire it,
  computed with the project's own CData-cron translation (:mod:`airflow_sync.jobs.cron`) and Airflow's cron
  timetable in the configured default time zone, plus the schedule in words.
- ``POST /getRunResults {JobName, RunId}``: the job row and per-query rows of one past run (getJobStatus
  only reports the latest run).
- ``POST /getRunLog {JobName, RunId}``: the task logs of one run (getLogs works by days).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from airflow_sync import www
from airflow_sync.api.auth import CurrentPrincipal, Principal, get_principal, require
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import (
    JOB_KEY_MAX,
    LogCollectionResponse,
    ResultCollectionResponse,
    body_doc,
    error_responses,
    wire_int,
    wire_str,
)
from airflow_sync.api.services.common import dag_id_for, get_field, job_key, run_db
from airflow_sync.api.wire import envelope, read_body, to_int
from airflow_sync.exceptions import JobNotFoundError, JobValidationError

router = APIRouter(tags=["ui"])

MAX_PREVIEW = 20
_MEDIA = {".cjs": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


CRON_MAX = 200
RUN_ID_MAX = 250  # Airflow's run_id column


class PreviewScheduleBody(BaseModel):
    """A cron in CData's form (day-of-week 1-7, 1 = Sunday; ``?``, ``L``, ``#`` translated)."""

    model_config = ConfigDict(extra="allow")
    ScheduledCron: Annotated[
        Any, wire_str(CRON_MAX, "5 fields: minute hour day month day-of-week", required=True)
    ]
    Count: Annotated[Any, wire_int(1, MAX_PREVIEW, "how many run times (default 5)")] = None


class PreviewScheduleResponse(BaseModel):
    """The next run times (ISO-8601 with offset, in the scheduler's time zone) and the schedule in words."""

    model_config = ConfigDict(populate_by_name=True)
    odata_context: str = Field(alias="@odata.context")
    value: list[str]
    ScheduledCron: str
    AirflowCron: str = Field(description="the cron Airflow schedules the job's DAG with")
    Description: str = Field(description="the schedule in words, as Airflow's UI describes it")
    Timezone: str


class PermissionsResponse(BaseModel):
    """What the signed-in caller may do with jobs in general (per-job flags are on each job: Can*)."""

    User: str
    CanCreate: str = Field(description="'True' when the caller may create jobs (DAG edit permission)")


class RunBody(BaseModel):
    """Name a job and one of its runs (a RunId from history or getJobStatus)."""

    model_config = ConfigDict(extra="allow")
    JobName: Annotated[Any, wire_str(JOB_KEY_MAX, "the job's name (or JobId)", required=True)]
    RunId: Annotated[Any, wire_str(RUN_ID_MAX, "a RunId from history", required=True)]


@router.get(
    "/ui/{name}",
    summary="The Sync Jobs page's bundle and icons (loaded by Airflow's UI with the session cookie)",
    response_class=FileResponse,
    responses=error_responses(404),
    dependencies=[Depends(get_principal)],
)
def ui_file(name: str) -> Response:
    if name == www.BUNDLE_NAME:
        path = www.DIST_DIR / www.BUNDLE_NAME
    elif name in www.ICONS:
        path = www.ICONS[name]
    else:
        raise ApiError(404, "NotFound", f"No file {name!r} in the Sync Jobs page.")
    if not path.is_file():
        raise ApiError(404, "NotFound", "The Sync Jobs bundle is not built; run `make ui-build`.")
    # revalidate every time (a 304 is cheap), so an upgraded package is picked up on the next page load
    etag = www.built_hash() or str(path.stat().st_mtime_ns)
    return FileResponse(
        path,
        media_type=_MEDIA[path.suffix],
        headers={"Cache-Control": "no-cache", "ETag": f'"{etag[:32]}-{name}"'},
    )


@router.get(
    "/permissions",
    summary="Who the caller is and whether they may create jobs (the page hides what they may not do)",
    responses={200: {"model": PermissionsResponse}, **error_responses()},
)
async def permissions(principal: CurrentPrincipal) -> dict[str, Any]:
    can_create = await run_db(lambda *, session: principal.allowed("edit", None))
    return {"User": principal.name, "CanCreate": "True" if can_create else "False"}


def preview_schedule(cron: str, count: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The next ``count`` fire times of a CData cron, as the job's DAG will fire them.

    :raises JobValidationError: the cron cannot be used (the same 400 a save would give)
    """
    from airflow.timetables.base import DataInterval, TimeRestriction

    from airflow_sync.dags.schedule import TIMEZONE, core_timetable
    from airflow_sync.jobs.cron import to_airflow_cron

    if not cron.strip():
        raise JobValidationError("ScheduledCron: enter a 5-field cron, e.g. 0 2 * * *", field="ScheduledCron")
    airflow_cron = to_airflow_cron(cron)
    timetable = core_timetable(airflow_cron)  # the job DAG's own timetable and zone
    import pendulum

    start = pendulum.instance(now or datetime.now(UTC))
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    times: list[str] = []
    last: DataInterval | None = None
    while len(times) < count:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        fire = info.run_after
        times.append(fire.in_timezone(TIMEZONE).isoformat())
        last = DataInterval(fire, fire)
    return {
        "value": times,
        "ScheduledCron": cron.strip(),
        "AirflowCron": airflow_cron,
        "Description": timetable.description,
        "Timezone": TIMEZONE,
    }


@router.post(
    "/previewSchedule",
    summary="Next run times of a cron (CData's form) as the job's DAG will fire them, and the words for it",
    responses={200: {"model": PreviewScheduleResponse}, **error_responses(400, 403)},
    openapi_extra=body_doc(PreviewScheduleBody),
    dependencies=[Depends(require("read"))],
)
async def preview_schedule_route(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    cron = get_field(body, "ScheduledCron")
    if not isinstance(cron, str):
        raise ApiError(400, "InvalidParameter", "ScheduledCron is required.", target="ScheduledCron")
    count = to_int(get_field(body, "Count"), field="Count", default=5, minimum=1, maximum=MAX_PREVIEW)
    result = preview_schedule(cron, count)
    return {"@odata.context": str(request.base_url).rstrip("/") + "/$metadata#previewSchedule", **result}


def _job_and_run(key: str, run_id: str, principal: Principal, *, session: Any) -> tuple[Any, Any]:
    """The stored job (None for a deleted job that still has runs) and the run, after a read check."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    from airflow_sync.jobs import store

    try:
        job = store.find_job(key, session=session)
        name = job.name
    except JobNotFoundError:
        job, name = None, key
    dag_id = dag_id_for(name)
    principal.authorize("read", dag_id)
    # no run id holds NUL, and PostgreSQL refuses NUL in a query parameter (a 500 otherwise)
    run = (
        None
        if "\x00" in run_id
        else session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    )
    if run is None:
        if job is None:
            raise JobNotFoundError(f"Job '{key}' does not exist")
        raise ApiError(404, "NotFound", f"Job '{name}' has no run {run_id[:250]!r}.", target="RunId")
    return job, run


def _run_results(key: str, run_id: str, principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    from airflow_sync.api.services.results import result_rows

    job, run = _job_and_run(key, run_id, principal, session=session)
    if job is None:
        raise JobNotFoundError(f"Job '{key}' does not exist; its runs are in history")
    return result_rows(job, run, session=session)


def _run_log(key: str, run_id: str, principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    from airflow_sync.api.services.logs import log_rows

    job, run = _job_and_run(key, run_id, principal, session=session)
    queries = dict(zip(job.query_task_ids(), job.queries, strict=True)) if job is not None else {}
    return log_rows(run.dag_id, days=1, queries=queries, session=session, run_id=run.run_id)


async def _run_body(request: Request) -> tuple[str, str]:
    body = await read_body(request)
    key = job_key(body)
    run_id = get_field(body, "RunId")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ApiError(400, "InvalidParameter", "RunId is required (from history).", target="RunId")
    assert key is not None
    return key, run_id.strip()


@router.post(
    "/getRunResults",
    summary="One run's job row and per-query rows (Status, RecordsAffected, errors), like getJobStatus",
    responses={200: {"model": ResultCollectionResponse}, **error_responses(400, 403, 404)},
    openapi_extra=body_doc(RunBody),
)
async def get_run_results(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    key, run_id = await _run_body(request)
    return envelope(request, "getJobStatus", await run_db(_run_results, key, run_id, principal))


@router.post(
    "/getRunLog",
    summary="The task logs of one run; Content is base64 of each attempt's log",
    responses={200: {"model": LogCollectionResponse}, **error_responses(400, 403, 404)},
    openapi_extra=body_doc(RunBody),
)
async def get_run_log(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    key, run_id = await _run_body(request)
    return envelope(request, "getLogs", await run_db(_run_log, key, run_id, principal))

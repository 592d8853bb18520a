"""The ``history`` entity set (job-api §4): one row per run of a Sync job, with OData and ``$count``.

Runs started anywhere (API, schedule, Airflow UI) are listed, and so are runs of deleted jobs. Only runs
of jobs the caller may read are shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import (
    JOB_KEY_MAX,
    HistoryCollectionResponse,
    HistoryEntity,
    error_responses,
)
from airflow_sync.api.odata import odata_parameters
from airflow_sync.api.services.common import dag_id_for, run_db
from airflow_sync.api.services.history_sql import history_entity, history_page
from airflow_sync.api.wire import FastJSONResponse, entity, envelope, key_pattern, parse_entity_key
from airflow_sync.exceptions import JobNotFoundError

#: the key in ``set(...)``, documented with its exact syntax
KeyPath = Annotated[
    str,
    Path(
        description="X, 'X' (a quote inside doubled) or Id='X'",
        json_schema_extra={"pattern": key_pattern("Id")},
    ),
]

router = APIRouter(tags=["history"])


def _job_name(key: str | None, *, session: Any) -> str | None:
    """The job a ``?JobName=`` names: a stored job's name or JobId, else the name as given (a deleted job
    keeps its runs)."""
    from airflow_sync.jobs import store

    if key is None:
        return None
    try:
        return store.find_job(key, session=session).name
    except JobNotFoundError:
        return key


def _page(
    principal: Principal, key: str | None, query: Any, *, session: Any
) -> tuple[list[dict[str, Any]], int | None]:
    from airflow_sync.jobs import store

    if key is not None and "\x00" in key:  # no DAG id has one (and PostgreSQL refuses it)
        return [], 0 if query.count else None
    job_name = _job_name(key, session=session)
    if job_name is not None:
        principal.authorize("read", dag_id_for(job_name))
    return history_page(
        query,
        job_name=job_name,
        readable=lambda dag_ids: principal.filter_allowed("read", dag_ids),
        jobs=lambda names: store.jobs_by_names(names, session=session),
        session=session,
    )


def _job_param(request: Request) -> str | None:
    for name, value in request.query_params.items():
        if name.lower() in ("jobname", "jobid"):
            if len(value) > JOB_KEY_MAX:
                raise ApiError(
                    400, "InvalidParameter", f"{name} is longer than {JOB_KEY_MAX} characters.", target=name
                )
            if value.strip():
                return value.strip()
    return None


_JOB_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": "only this job's runs" if name == "JobName" else "the job by its JobId",
        "schema": {"type": "string", "maxLength": JOB_KEY_MAX},
    }
    for name in ("JobName", "JobId")
]


#: field types for $filter/$orderby: numbers and instants compare as such, not as text
SCHEMA = {
    "Id": "int",
    "RunId": "string",
    "JobId": "string",
    "JobName": "string",
    "RunStartDate": "datetime",
    "RunEndDate": "datetime",
    "Status": "string",
    "Details": "string",
    "Runtime": "string",
    "RecordsAffected": "int",
    "RunType": "string",
    "LogFile": "string",
    "InstanceId": "string",
}


def _odata(request: Request) -> Any:
    from airflow_sync.api.odata import parse_odata

    return parse_odata({k: v for k, v in request.query_params.items() if k.startswith("$")}, schema=SCHEMA)


@router.get(
    "/history",
    summary="Run history of Sync jobs (OData $filter/$select/$orderby/$top/$skip; ?JobName=X)",
    responses={200: {"model": HistoryCollectionResponse}, **error_responses(400, 403)},
    openapi_extra={"parameters": [*odata_parameters(SCHEMA), *_JOB_QUERY]},
)
async def list_history(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    query = _odata(request)  # bad options are a 400 before any DB work
    rows, count = await run_db(_page, principal, _job_param(request), query)
    result = envelope(request, "history", rows)
    if count is not None:
        result["@odata.count"] = count
    return FastJSONResponse(result)  # type: ignore[return-value]  # no jsonable_encoder pass


@router.get(
    "/history/$count",
    summary="Number of history rows (after $filter) as plain text",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "pattern": r"^\d+$"}}}},
        **error_responses(400, 403),
    },
    openapi_extra={"parameters": [*odata_parameters(SCHEMA, count=False)[:1], *_JOB_QUERY]},
)
async def count_history(request: Request, principal: CurrentPrincipal) -> PlainTextResponse:
    import dataclasses

    query = dataclasses.replace(_odata(request), count=True, top=0, skip=0, orderby=())
    _, count = await run_db(_page, principal, _job_param(request), query)
    return PlainTextResponse(str(count))


@router.get(
    "/history({key})",
    summary="One history row by its Id",
    responses={200: {"model": HistoryEntity}, **error_responses(400, 403, 404)},
)
async def get_history(key: KeyPath, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    wanted = parse_entity_key(key, "Id")
    row = None
    if wanted.isascii() and wanted.isdigit() and len(wanted) < 18:  # an Id is str(dag_run.id)
        row = await run_db(_one, principal, int(wanted))
    if row is None or row["Id"] != wanted:
        raise ApiError(404, "NotFound", f"No history row with Id {wanted!r}.", target="Id")
    return entity(request, "history", row)


def _one(principal: Principal, run_pk: int, *, session: Any) -> dict[str, Any] | None:
    from airflow_sync.jobs import store

    return history_entity(
        run_pk,
        readable=lambda dag_ids: principal.filter_allowed("read", dag_ids),
        jobs=lambda names: store.jobs_by_names(names, session=session),
        session=session,
    )

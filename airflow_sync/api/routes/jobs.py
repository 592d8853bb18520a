"""The ``jobs`` entity set (job-api §3, §4): list, get, create, modify, delete.

Keys come in CData's three forms — ``jobs(X)``, ``jobs('X')`` (quotes doubled inside), and
``jobs(JobName='X')`` — URL-encoded, plus ``GET /jobs?JobName=X``. A key may also be the job's ``JobId``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import JobBody, JobCollectionResponse, JobResponse, body_doc, error_docs
from airflow_sync.api.services import jobs as job_service
from airflow_sync.api.services.common import dag_id_for, get_field, resolve_job, run_db
from airflow_sync.api.wire import entity, envelope, parse_entity_key, read_body

router = APIRouter(tags=["jobs"])

KEY = "JobName"


def _key(raw: str) -> str:
    return parse_entity_key(raw, KEY)


def _odata_params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k.startswith("$")}


def _visible_entities(principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    from airflow_sync.jobs import store

    every = store.list_jobs(session=session)
    visible = principal.filter_allowed("read", [dag_id_for(j.name) for j in every])
    jobs = [j for j in every if dag_id_for(j.name) in visible]
    return job_service.entities(jobs, allowed=principal.allowed, session=session)


def _one_entity(key: str, principal: Principal, *, session: Any) -> dict[str, Any]:
    job = resolve_job(key, session=session)
    principal.authorize("read", dag_id_for(job.name))
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


def _query_job_name(request: Request) -> str | None:
    for name, value in request.query_params.items():
        if name.lower() in ("jobname", "jobid") and value.strip():
            return value.strip()
    return None


@router.get(
    "/jobs",
    summary="List jobs (OData $filter/$select/$orderby/$top/$skip), or one job with ?JobName=",
    responses={200: {"model": JobCollectionResponse}, **error_docs(400, 401, 403, 404)},
)
async def list_jobs(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    single = _query_job_name(request)
    if single is not None:
        return entity(request, "jobs", await run_db(_one_entity, single, principal))
    from airflow_sync.api.odata import apply_odata, filter_rows, parse_odata

    query = parse_odata(_odata_params(request))
    rows = await run_db(_visible_entities, principal)
    result = envelope(request, "jobs", apply_odata(rows, query))
    if query.count:
        result["@odata.count"] = len(filter_rows(rows, query))
    return result


@router.get(
    "/jobs/$count",
    summary="Number of jobs (after $filter) as plain text",
    response_class=PlainTextResponse,
    responses=error_docs(400, 401),
)
async def count_jobs(request: Request, principal: CurrentPrincipal) -> PlainTextResponse:
    from airflow_sync.api.odata import filter_rows, parse_odata

    query = parse_odata(_odata_params(request))
    rows = await run_db(_visible_entities, principal)
    return PlainTextResponse(str(len(filter_rows(rows, query))))


@router.get(
    "/jobs({key})",
    summary="Get one job: jobs(X), jobs('X'), jobs(JobName='X'); X may also be the JobId",
    responses={200: {"model": JobResponse}, **error_docs(400, 401, 403, 404)},
)
async def get_job(key: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return entity(request, "jobs", await run_db(_one_entity, _key(key), principal))


@router.get(
    "/jobs({key})/{prop}",
    summary="One property of a job as {'value': ...}",
    responses=error_docs(400, 401, 403, 404),
)
async def get_job_property(key: str, prop: str, request: Request, principal: CurrentPrincipal) -> Any:
    row = await run_db(_one_entity, _key(key), principal)
    value = _property(row, prop)
    return {"@odata.context": f"{str(request.base_url).rstrip('/')}/$metadata#jobs/{prop}", "value": value}


@router.get(
    "/jobs({key})/{prop}/$value",
    summary="One property of a job as plain text",
    response_class=PlainTextResponse,
    responses=error_docs(400, 401, 403, 404),
)
async def get_job_property_value(key: str, prop: str, principal: CurrentPrincipal) -> Response:
    row = await run_db(_one_entity, _key(key), principal)
    value = _property(row, prop)
    if value is None:  # OData: a null property's raw value is 204
        return Response(status_code=204)
    return PlainTextResponse(str(value))


def _property(row: dict[str, Any], prop: str) -> Any:
    for name, value in row.items():
        if name.lower() == prop.lower():
            return value
    raise ApiError(404, "NotFound", f"Jobs have no property {prop!r}.", target=prop)


def _create(body: dict[str, Any], principal: Principal, *, session: Any) -> dict[str, Any]:
    job = job_service.create(body, session=session)
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


@router.post(
    "/jobs",
    status_code=201,
    summary="Create a job (its DAG is generated and runnable within seconds)",
    responses={201: {"model": JobResponse}, **error_docs(400, 401, 403, 409, 413)},
    openapi_extra=body_doc(JobBody),
)
async def create_job(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    body = await read_body(request)
    name = get_field(body, "JobName")
    target = dag_id_for(str(name)) if isinstance(name, str) and name.strip() else None
    await run_db(_authorize, principal, "edit", target)
    row = await run_db(_create, body, principal)
    return JSONResponse(entity(request, "jobs", row), status_code=201)


def _authorize(principal: Principal, action: Any, dag_id: str | None, *, session: Any) -> None:
    principal.authorize(action, dag_id)


def _modify(key: str, body: dict[str, Any], principal: Principal, *, session: Any) -> dict[str, Any]:
    current = resolve_job(key, session=session)
    principal.authorize("edit", dag_id_for(current.name))
    job = job_service.modify(current.name, body, session=session)
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


@router.put(
    "/jobs({key})",
    summary="Modify a job: only sent fields change; any Query#N replaces the query list",
    responses={200: {"model": JobResponse}, **error_docs(400, 401, 403, 404, 409, 413)},
    openapi_extra=body_doc(JobBody),
)
async def modify_job(key: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    return entity(request, "jobs", await run_db(_modify, _key(key), body, principal))


def _delete(key: str, principal: Principal, *, session: Any) -> None:
    current = resolve_job(key, session=session)
    principal.authorize("edit", dag_id_for(current.name))
    job_service.delete(current.name, session=session)


@router.delete(
    "/jobs({key})",
    status_code=204,
    summary="Delete a job: its DAG is paused at once and leaves the UI; run history is kept",
    responses=error_docs(401, 403, 404, 409),
)
async def delete_job(key: str, principal: CurrentPrincipal) -> Response:
    await run_db(_delete, _key(key), principal)
    return Response(status_code=204)

"""The ``jobs`` entity set (job-api §3, §4): list, get, create, modify, delete.

Keys come in CData's three forms — ``jobs(X)``, ``jobs('X')`` (quotes doubled inside), and
``jobs(JobName='X')`` — URL-encoded, plus ``GET /jobs?JobName=X``. A key may also be the job's ``JobId``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import (
    JOB_KEY_MAX,
    body_doc,
    error_responses,
    json_content,
    ref,
)
from airflow_sync.api.odata import odata_parameters
from airflow_sync.api.services import jobs as job_service
from airflow_sync.api.services.common import dag_id_for, get_field, resolve_job, run_db
from airflow_sync.api.wire import FastJSONResponse, entity, envelope, key_pattern, parse_entity_key, read_body
from airflow_sync.jobs.fields import FIELDS, to_bool

#: the key in ``set(...)``, documented with its exact syntax
KeyPath = Annotated[
    str,
    Path(
        description="X, 'X' (a quote inside doubled) or JobName='X'",
        json_schema_extra={"pattern": key_pattern("JobName")},
    ),
]

router = APIRouter(tags=["jobs"])

KEY = "JobName"

#: field -> type for $filter / $orderby (wire values are strings; these compare as numbers, instants...)
ODATA_SCHEMA: dict[str, str] = {"JobId": "string"}
for _spec in FIELDS:
    ODATA_SCHEMA[_spec.wire] = (
        "bool" if _spec.coerce is to_bool else "int" if hasattr(_spec.coerce, "int_range") else "string"
    )
ODATA_SCHEMA.update(
    Type="string", Status="string", DagId="string", LastRun="datetime", NextRun="datetime",
    CanUpdate="bool", CanRemove="bool", CanExecute="bool", Version="string",
)  # fmt: skip

_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'the ETag (or Version) your edit is based on, e.g. "3f2a9c0e1b7d4a55"; a job changed '
    "since gets 409 JobConflict and nothing is written. * matches any version.",
    "schema": {"type": "string", "maxLength": 1000},
}
_ETAG = {"ETag": {"description": "the job's Version, quoted", "schema": {"type": "string"}}}
_JOB_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": "return this one job (the entity, not a collection)" if name == "JobName" else "same",
        "schema": {"type": "string", "maxLength": JOB_KEY_MAX},
    }
    for name in ("JobName", "JobId")
]


def _key(raw: str) -> str:
    return parse_entity_key(raw, KEY)


def _odata_params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k.startswith("$")}


def _odata(request: Request) -> Any:
    from airflow_sync.api.odata import parse_odata

    return parse_odata(_odata_params(request), schema=ODATA_SCHEMA)


def _visible_jobs(principal: Principal, flt: Any, *, session: Any) -> list[Any]:
    """The jobs the caller may read that ``flt`` can match, sorted by name: the database narrows them by
    JobName / Status / LastRun where the filter allows (the filter itself is applied to the entities)."""
    from airflow_sync.jobs import store

    names = job_service.matching_names(flt, session=session, schema=ODATA_SCHEMA)
    if names is None:
        every = store.list_jobs(session=session)
    else:
        every = sorted(store.jobs_by_names(set(names), session=session).values(), key=lambda j: j.name)
    visible = principal.filter_allowed("read", [dag_id_for(j.name) for j in every])
    return [j for j in every if dag_id_for(j.name) in visible]


def _matching(principal: Principal, query: Any, *, session: Any) -> tuple[list[dict[str, Any]], int | None]:
    """The entities of a list request (filtered, ordered, paged, projected) and the ``$count``."""
    from airflow_sync.api.odata import apply_odata, filter_rows

    jobs = _visible_jobs(principal, query.filter, session=session)
    rows = job_service.entities(
        jobs, allowed=principal.allowed, allowed_many=principal.filter_allowed, session=session
    )
    return apply_odata(rows, query), len(filter_rows(rows, query)) if query.count else None


def _count(principal: Principal, query: Any, *, session: Any) -> int:
    from airflow_sync.api.odata import filter_rows

    jobs = _visible_jobs(principal, query.filter, session=session)
    if query.filter is None:  # no entity needed to count every job
        return len(jobs)
    rows = job_service.entities(
        jobs, allowed=principal.allowed, allowed_many=principal.filter_allowed, session=session
    )
    return len(filter_rows(rows, query))


def _one_entity(key: str, principal: Principal, *, session: Any) -> dict[str, Any]:
    job = resolve_job(key, session=session)
    principal.authorize("read", dag_id_for(job.name))
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


def _query_job_name(request: Request) -> str | None:
    for name, value in request.query_params.items():
        if name.lower() in ("jobname", "jobid"):
            if len(value) > JOB_KEY_MAX:
                raise ApiError(
                    400, "InvalidParameter", f"{name} is longer than {JOB_KEY_MAX} characters.", target=name
                )
            if value.strip():
                return value.strip()
    return None


def _etag(row: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{row["Version"]}"'}


def _entity_response(request: Request, row: dict[str, Any], status: int = 200) -> JSONResponse:
    return FastJSONResponse(entity(request, "jobs", row), status_code=status, headers=_etag(row))


def if_match_versions(request: Request, body: dict[str, Any]) -> tuple[str, ...]:
    """The versions a write is based on: the ``If-Match`` header (quoted ETag; ``*`` = any) and the body's
    ``Version``; every one given must be the stored version (empty: the write applies to whatever is
    stored).

    :raises ApiError: 400 when ``Version`` is not text
    """
    versions: list[str] = []
    header = request.headers.get("if-match")
    if header is not None and header.strip() != "*":
        versions += [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()][:1]
        if not versions:
            versions.append(header.strip())
    from_body = get_field(body, "Version")
    if from_body is not None:
        if not isinstance(from_body, str):
            raise ApiError(400, "InvalidParameter", "Version must be a string.", target="Version")
        if from_body.strip():
            versions.append(from_body.strip())
    return tuple(versions)


@router.get(
    "/jobs",
    summary="List jobs (OData $filter/$select/$orderby/$top/$skip/$count), or one job with ?JobName=",
    responses={
        200: {
            "description": "the jobs (an OData collection), or the entity for ?JobName=",
            "content": {"application/json": {"schema": {"oneOf": [ref("JobCollection"), ref("Job")]}}},
        },
        **error_responses(400, 403, 404),
    },
    openapi_extra={"parameters": [*odata_parameters(ODATA_SCHEMA), *_JOB_QUERY]},
)
async def list_jobs(request: Request, principal: CurrentPrincipal) -> Any:
    single = _query_job_name(request)
    query = _odata(request)  # bad options are a 400 before any DB work
    if single is not None:
        return _entity_response(request, await run_db(_one_entity, single, principal))
    rows, count = await run_db(_matching, principal, query)
    result = envelope(request, "jobs", rows)
    if count is not None:
        result["@odata.count"] = count
    return FastJSONResponse(result)  # no jsonable_encoder pass over 1,000 entities


@router.get(
    "/jobs/$count",
    summary="Number of jobs (after $filter) as plain text",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "pattern": r"^\d+$"}}}},
        **error_responses(400),
    },
    openapi_extra={"parameters": odata_parameters(ODATA_SCHEMA, count=False)[:1]},
)
async def count_jobs(request: Request, principal: CurrentPrincipal) -> PlainTextResponse:
    query = _odata(request)
    return PlainTextResponse(str(await run_db(_count, principal, query)))


@router.get(
    "/jobs({key})",
    summary="Get one job: jobs(X), jobs('X'), jobs(JobName='X'); X may also be the JobId",
    responses={200: {**json_content("Job"), "headers": _ETAG}, **error_responses(400, 403, 404)},
)
async def get_job(key: KeyPath, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return _entity_response(request, await run_db(_one_entity, _key(key), principal))


@router.get(
    "/jobs({key})/{prop}",
    summary="One property of a job as {'value': ...}",
    responses={200: json_content("PropertyValue"), **error_responses(400, 403, 404)},
)
async def get_job_property(key: KeyPath, prop: str, request: Request, principal: CurrentPrincipal) -> Any:
    row = await run_db(_one_entity, _key(key), principal)
    name, value = _property(row, prop)
    return {"@odata.context": f"{_base(request)}/$metadata#jobs/{name}", "value": value}


def _base(request: Request) -> str:
    from airflow_sync.api.wire import base_url

    return base_url(request)


@router.get(
    "/jobs({key})/{prop}/$value",
    summary="One property of a job as plain text (204 when it is null)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        204: {"description": "the property is null"},
        **error_responses(400, 403, 404),
    },
)
async def get_job_property_value(key: KeyPath, prop: str, principal: CurrentPrincipal) -> Response:
    row = await run_db(_one_entity, _key(key), principal)
    _, value = _property(row, prop)
    if value is None:  # OData: a null property's raw value is 204
        return Response(status_code=204)
    return PlainTextResponse(str(value))


def _property(row: dict[str, Any], prop: str) -> tuple[str, Any]:
    for name, value in row.items():
        if name.lower() == prop.lower():
            return name, value
    raise ApiError(404, "NotFound", f"Jobs have no property {prop[:100]!r}.", target=prop[:100])


def _python_events(values: dict[str, Any]) -> dict[str, str]:
    """The PreJob / PostJob values of a body (or a job's fields) written in the ``python:`` form."""
    out = {}
    for name in ("PreJob", "PostJob"):
        text = get_field(values, name)
        if isinstance(text, str) and text.strip().lower().startswith("python:"):
            out[name] = " ".join(text.split())
    return out


def _authorize_python_events(principal: Principal, body: dict[str, Any], current: Any = None) -> None:
    """Setting or changing a ``python:`` event runs code on the workers: the admin role only (spec §6).

    :raises ApiError: 403 naming the field, before anything is validated or stored
    """
    stored = _python_events({"PreJob": current.pre_job, "PostJob": current.post_job}) if current else {}
    for name, text in _python_events(body).items():
        if stored.get(name) != text and not principal.allowed("admin", None):
            who = (
                f"token {principal.name!r} (role {principal.role})"
                if principal.kind == "token"
                else (f"user {principal.name!r}")
            )
            raise ApiError(
                403,
                "Forbidden",
                f"{who} may not set a python: {name}; running Python code on the workers needs the admin "
                "role (sql:, http: and CData event XML need only job_creator).",
                target=name,
            )


def _create(body: dict[str, Any], principal: Principal, *, session: Any) -> dict[str, Any]:
    _authorize_python_events(principal, body)
    job = job_service.create(body, session=session)
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


@router.post(
    "/jobs",
    status_code=201,
    summary="Create a job (its DAG is generated and runnable within seconds)",
    responses={
        201: {**json_content("Job", "Created"), "headers": _ETAG},
        **error_responses(400, 403, 409, 413),
    },
    openapi_extra=body_doc("JobCreateBody"),
)
async def create_job(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    body = await read_body(request)
    name = get_field(body, "JobName")
    target = dag_id_for(str(name)) if isinstance(name, str) and name.strip() else None
    await run_db(_authorize, principal, "edit", target)
    row = await run_db(_create, body, principal)
    return _entity_response(request, row, status=201)


def _authorize(principal: Principal, action: Any, dag_id: str | None, *, session: Any) -> None:
    principal.authorize(action, dag_id)


def _modify(
    key: str, body: dict[str, Any], versions: tuple[str, ...], principal: Principal, *, session: Any
) -> dict[str, Any]:
    current = resolve_job(key, session=session)
    principal.authorize("edit", dag_id_for(current.name))
    _authorize_python_events(principal, body, current)
    job = job_service.modify(current.name, body, expected_versions=versions, session=session)
    return job_service.entities([job], allowed=principal.allowed, session=session)[0]


@router.put(
    "/jobs({key})",
    summary="Modify a job: only sent fields change; any Query#N replaces the query list; If-Match/Version "
    "makes it conditional",
    responses={200: {**json_content("Job"), "headers": _ETAG}, **error_responses(400, 403, 404, 409, 413)},
    openapi_extra={**body_doc("JobModifyBody"), "parameters": [_IF_MATCH]},
)
async def modify_job(key: KeyPath, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    body = await read_body(request)
    versions = if_match_versions(request, body)
    return _entity_response(request, await run_db(_modify, _key(key), body, versions, principal))


def _delete(key: str, versions: tuple[str, ...], principal: Principal, *, session: Any) -> None:
    current = resolve_job(key, session=session)
    principal.authorize("edit", dag_id_for(current.name))
    job_service.delete(current.name, expected_versions=versions, session=session)


@router.delete(
    "/jobs({key})",
    status_code=204,
    summary="Delete a job: its DAG is paused at once and leaves the UI; run history is kept",
    responses={204: {"description": "Deleted"}, **error_responses(400, 403, 404, 409)},
    openapi_extra={"parameters": [_IF_MATCH]},
)
async def delete_job(key: KeyPath, request: Request, principal: CurrentPrincipal) -> Response:
    versions = if_match_versions(request, {})
    await run_db(_delete, _key(key), versions, principal)
    return Response(status_code=204)

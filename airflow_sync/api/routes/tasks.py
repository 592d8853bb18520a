"""The ``tasks`` entity set (research §1.3): a job's queries as entities, every change a job change.

``GET /tasks`` (OData, ``?JobName=``, ``/tasks/$count``), ``GET /tasks('JobName')`` (that job's tasks; the key
may also be a JobId or a TaskId), ``POST /tasks`` (add: ``Query`` or ``Table``, optional ``Index``),
``PUT /tasks('JobName')`` (change the task named by ``TaskId``, or add one), ``PUT /tasks`` (key in the body),
``DELETE /tasks?JobName=&TaskId=``. See :mod:`airflow_sync.api.services.tasks` for the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.connection_models import validate_body
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import body_doc, error_responses
from airflow_sync.api.odata import odata_parameters
from airflow_sync.api.services import tasks as service
from airflow_sync.api.services.common import run_db
from airflow_sync.api.task_models import (
    JOB_KEY_MAX,
    TASK_ID_PATTERN,
    TaskBody,
    TaskCollectionResponse,
    TaskPutBody,
    TaskResponse,
    TaskUpdateBody,
)
from airflow_sync.api.wire import entity, envelope, read_body
from airflow_sync.jobs import scalars
from airflow_sync.jobs.scalars import WS

router = APIRouter(tags=["tasks"])

SET = "tasks"
SCHEMA = {
    "TaskId": "string",
    "JobName": "string",
    "JobId": "string",
    "Index": "int",
    "Query": "string",
    "Table": "string",
    "RowVersion": "string",
}
_KEY_NAMES = ("jobname", "jobid", "taskid")
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "the job's version the change is based on (its ETag or the tasks' RowVersion), e.g. "
    '"3f2a9c0e1b7d4a55"; a job changed since gets 409 JobConflict and nothing is written. * matches any.',
    "schema": {"type": "string", "maxLength": 1000},
}


def _versions(request: Request, row_version: str | None) -> tuple[str, ...]:
    """The job versions a task write is based on: ``If-Match`` (quoted ETag, ``*`` = any) and
    ``RowVersion`` — the rules of ``PUT /jobs``."""
    versions: list[str] = []
    header = request.headers.get("if-match")
    if header is not None and header.strip() != "*":
        tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()]
        versions.append(tags[0] if tags else header.strip())
    if row_version is not None and row_version.strip(WS):
        versions.append(row_version.strip(WS))
    return tuple(versions)


def _key_pattern() -> str:
    """``X``, ``'X'`` (quotes doubled inside) or ``Name='X'`` with Name JobName, JobId or TaskId — what
    :func:`_parse_key` accepts (:func:`airflow_sync.api.wire.key_pattern` with three key names)."""
    ws = r"[ \t\r\n]"
    quoted = r"'(?:[^']|'')+'"
    names = "|".join(scalars.case_insensitive(n) for n in ("JobName", "JobId", "TaskId"))
    named = f"(?:{names}){ws}*={ws}*(?:{quoted}|[^' \\t\\r\\n][\\s\\S]*)"
    return f"^{ws}*(?:{named}|{quoted}|[^'= \\t\\r\\n][^=]*){ws}*$"


KeyPath = Annotated[
    str,
    Path(
        description="the job: X, 'X' (a quote inside doubled), JobName='X', JobId='X'; or TaskId='N'",
        json_schema_extra={"pattern": _key_pattern()},
    ),
]
_JOB_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": "only this job's tasks" if name == "JobName" else "same, by JobId",
        "schema": {"type": "string", "maxLength": JOB_KEY_MAX},
    }
    for name in ("JobName", "JobId")
]


def _odata(request: Request) -> Any:
    from airflow_sync.api.odata import parse_odata

    return parse_odata({k: v for k, v in request.query_params.items() if k.startswith("$")}, schema=SCHEMA)


def _job_param(request: Request) -> str | None:
    for name, value in request.query_params.items():
        if name.lower() in ("jobname", "jobid") and value.strip():
            return value.strip()
    return None


def _filtered_job(node: Any) -> str | None:
    """The job a ``$filter`` requires (``JobName eq '<name>'``, alone or and-ed): only it is read."""
    from airflow_sync.api.odata import BoolOp, Compare, Field, Lit

    if isinstance(node, BoolOp) and node.op == "and":
        return next((name for item in node.items if (name := _filtered_job(item))), None)
    if isinstance(node, Compare) and node.op == "eq":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if (
                isinstance(a, Field)
                and a.name == "JobName"
                and isinstance(b, Lit)
                and isinstance(b.value, str)
            ):
                return b.value
    return None


def _filtered_rows(principal: Principal, request: Request, query: Any, *, session: Any) -> list[dict]:
    """Rows for a collection request; a ``$filter`` on a job that does not exist, or that the caller may not
    read, matches nothing (as in the full list), where ``?JobName=`` answers 404 / 403."""
    from airflow_sync.exceptions import JobNotFoundError

    explicit = _job_param(request)
    if explicit is not None:
        return service.visible_rows(principal, explicit, session=session)
    only = _filtered_job(query.filter)
    try:
        return service.visible_rows(principal, only, session=session)
    except JobNotFoundError:
        return []
    except ApiError as exc:
        if exc.status == 403:
            return []
        raise


@router.get(
    "/tasks",
    operation_id="listTasks",
    summary="Tasks of every job (OData $filter/$select/$orderby/$top/$skip/$count), or of ?JobName=",
    responses={200: {"model": TaskCollectionResponse}, **error_responses(400, 403, 404)},
    openapi_extra={"parameters": [*odata_parameters(SCHEMA), *_JOB_QUERY]},
)
async def list_tasks(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    from airflow_sync.api.odata import apply_odata, filter_rows

    query = _odata(request)
    rows = await run_db(_filtered_rows, principal, request, query)
    result = envelope(request, SET, apply_odata(rows, query))
    if query.count:
        result["@odata.count"] = len(filter_rows(rows, query))
    return result


@router.get(
    "/tasks/$count",
    operation_id="countTasks",
    summary="Number of tasks (after $filter) as plain text",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
        **error_responses(400, 403, 404),
    },
    openapi_extra={"parameters": [*odata_parameters(SCHEMA, count=False)[:1], *_JOB_QUERY]},
)
async def count_tasks(request: Request, principal: CurrentPrincipal) -> PlainTextResponse:
    from airflow_sync.api.odata import filter_rows

    query = _odata(request)
    rows = await run_db(_filtered_rows, principal, request, query)
    return PlainTextResponse(str(len(filter_rows(rows, query))))


def _parse_key(raw: str) -> tuple[str, str | None]:
    """``X``, ``'X'`` or ``Name='X'`` with Name one of JobName, JobId, TaskId -> (X, lower-case name)."""
    from airflow_sync.api.wire import parse_entity_key

    prefix, eq, _ = raw.strip().partition("=")
    name = prefix.strip().lower() if eq and not raw.strip().startswith("'") else None
    if name is not None and name not in _KEY_NAMES:
        raise ApiError(
            400,
            "InvalidKey",
            f"Unknown key property {prefix.strip()!r}; use JobName or TaskId.",
            target="JobName",
        )
    key = parse_entity_key(
        raw, {"jobname": "JobName", "jobid": "JobId", "taskid": "TaskId"}.get(name or "", "JobName")
    )
    return key, name


def _by_key(key: str, name: str | None, principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    return service.rows_for_key(key, name, principal, session=session)


@router.get(
    "/tasks({key})",
    operation_id="getTasks",
    summary="The tasks of one job: tasks('JobName') (or a JobId); tasks('TaskId') gives that task",
    responses={200: {"model": TaskCollectionResponse}, **error_responses(400, 403, 404)},
)
async def get_tasks(key: KeyPath, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    value, name = _parse_key(key)
    return envelope(request, SET, await run_db(_by_key, value, name, principal))


# ------------------------------------------------------------------------------------------------ writes


def _query_of(body: TaskBody | TaskPutBody) -> tuple[str | None, str]:
    """(REPLICATE text or None, the field it came from); Query wins over Table."""
    if body.Query is not None:
        return body.Query.strip(WS), "Query"
    if body.Table is not None:
        return service.table_query(body.Table), "Table"
    return None, "Query"


def _index(body: TaskBody | TaskPutBody) -> int | None:
    return body.Index  # type: ignore[no-any-return]


def _row(job: Any, task_id: str) -> dict[str, Any]:
    return next(r for r in service.task_rows(job) if r["TaskId"] == task_id)


def _job(key: str | None, body: TaskBody | TaskPutBody, *, session: Any) -> str:
    """The job named by the route key and/or the body's JobName/JobId (they must name the same job)."""
    from airflow_sync.api.services.common import resolve_job

    sent = (body.JobName or body.JobId or "").strip(WS) or None
    if key is None and sent is None:
        raise ApiError(400, "InvalidParameter", "JobName (or JobId) is required.", target="JobName")
    if key is None or sent is None or sent == key:
        return key or sent  # type: ignore[return-value]
    named, keyed = resolve_job(sent, session=session), resolve_job(key, session=session)
    if named.name != keyed.name:
        raise ApiError(
            400,
            "InvalidParameter",
            f"The body names job {named.name!r}, the key {keyed.name!r}.",
            target="JobName",
        )
    return keyed.name


def _add(
    key: str | None,
    body: TaskBody | TaskPutBody,
    versions: tuple[str, ...],
    principal: Principal,
    *,
    session: Any,
) -> dict:
    query, field = _query_of(body)
    if query is None:
        raise ApiError(400, "InvalidParameter", "Query (or Table) is required to add a task.", target="Query")
    change = service.TaskEdit(service.adding(query, _index(body)), sent_field=field)
    job_key = _job(key, body, session=session)
    job, task_id = service.edit(job_key, change, principal, expected_versions=versions, session=session)
    return _row(job, task_id)


def _update(
    key: str | None, body: TaskPutBody, versions: tuple[str, ...], principal: Principal, *, session: Any
) -> dict:
    assert body.TaskId is not None
    query, field = _query_of(body)
    index = _index(body)
    if query is None and index is None:
        raise ApiError(
            400, "InvalidParameter", "Nothing to change: send Query, Table or Index.", target="Query"
        )
    change = service.TaskEdit(service.updating(body.TaskId, query, index), sent_field=field)
    if key is None and not (body.JobName or body.JobId or "").strip(WS):
        key = _task_job(body.TaskId, session=session)
    job_key = _job(key, body, session=session)
    job, task_id = service.edit(job_key, change, principal, expected_versions=versions, session=session)
    return _row(job, task_id)


def _task_job(task_id: str, *, session: Any) -> str:
    job = service.job_of_task(task_id, session=session)
    if job is None:
        raise ApiError(
            404, "TaskNotFound", f"No job has a task with TaskId {task_id.strip()!r}.", target="TaskId"
        )
    return job.name


@router.post(
    "/tasks",
    status_code=201,
    operation_id="createTask",
    summary="Add a task to a job (Query, or Table -> REPLICATE [Table]); Index inserts, later tasks shift",
    responses={201: {"model": TaskResponse}, **error_responses(400, 403, 404, 409, 413)},
    openapi_extra={**body_doc(TaskBody), "parameters": [_IF_MATCH]},
)
async def create_task(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    body = validate_body(TaskBody, await read_body(request))
    if body.Query is None and body.Table is None:
        raise ApiError(400, "InvalidParameter", "Query (or Table) is required.", target="Query")
    row = await run_db(_add, None, body, _versions(request, body.RowVersion), principal)
    return JSONResponse(entity(request, SET, row), status_code=201)


@router.put(
    "/tasks({key})",
    operation_id="putTask",
    summary="Change the task named by TaskId in the body (Query/Table, Index moves it), or add a task",
    responses={
        200: {"model": TaskResponse, "description": "the task was changed"},
        201: {"model": TaskResponse, "description": "the task was added (no TaskId in the body)"},
        **error_responses(400, 403, 404, 409, 413),
    },
    openapi_extra={**body_doc(TaskPutBody), "parameters": [_IF_MATCH]},
)
async def put_task(key: KeyPath, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    value, name = _parse_key(key)
    body = validate_body(TaskPutBody, await read_body(request))
    if name == "taskid":
        raise ApiError(
            400,
            "InvalidKey",
            "PUT tasks(...) is keyed by JobName; send TaskId in the body.",
            target="JobName",
        )
    if body.TaskId is None:
        row = await run_db(_add, value, body, _versions(request, body.RowVersion), principal)
        return JSONResponse(entity(request, SET, row), status_code=201)
    versions = _versions(request, body.RowVersion)
    return JSONResponse(entity(request, SET, await run_db(_update, value, body, versions, principal)))


@router.put(
    "/tasks",
    operation_id="updateTask",
    summary="Change a task named in the body (TaskId, and JobName or JobId): Query/Table, Index moves it",
    responses={200: {"model": TaskResponse}, **error_responses(400, 403, 404, 409, 413)},
    openapi_extra={**body_doc(TaskUpdateBody), "parameters": [_IF_MATCH]},
)
async def update_task(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = validate_body(TaskUpdateBody, await read_body(request))
    versions = _versions(request, body.RowVersion)
    return entity(request, SET, await run_db(_update, None, body, versions, principal))


def _delete(
    job_key: str | None, task_id: str, versions: tuple[str, ...], principal: Principal, *, session: Any
) -> None:
    key = job_key or _task_job(task_id, session=session)
    change = service.TaskEdit(service.removing(task_id))
    service.edit(key, change, principal, expected_versions=versions, session=session)


@router.delete(
    "/tasks",
    status_code=204,
    operation_id="deleteTask",
    summary="Remove a task: ?JobName=&TaskId= (later tasks move up)",
    responses=error_responses(400, 403, 404, 409),
    openapi_extra={"parameters": [_IF_MATCH]},
)
async def delete_task(
    request: Request,
    principal: CurrentPrincipal,
    TaskId: Annotated[str, Query(max_length=40, pattern=TASK_ID_PATTERN, description="the task to remove")],
    JobName: Annotated[
        str | None, Query(max_length=250, description="its job (found by TaskId if absent)")
    ] = None,
    JobId: Annotated[str | None, Query(max_length=250, description="instead of JobName")] = None,
    RowVersion: Annotated[
        str | None, Query(max_length=64, description="refused (409) if not current")
    ] = None,
) -> Response:
    job_key = (JobName or JobId or "").strip(WS) or None
    await run_db(_delete, job_key, TaskId.strip(WS), _versions(request, RowVersion), principal)
    return Response(status_code=204)

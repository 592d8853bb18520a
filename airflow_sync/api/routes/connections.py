"""The ``connections`` entity set (connections-tasks spec): list, get, ``$count``, create, modify, delete.

A view and an editor over Airflow's connection store (see :mod:`airflow_sync.api.services.connections`).
Keys come as ``connections(X)``, ``connections('X')`` or ``connections(Name='X')``. Every
``ConnectionString`` in a response has its secrets masked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.connection_models import (
    ConnectionBody,
    ConnectionCollectionResponse,
    ConnectionPatchBody,
    ConnectionResponse,
    body_spec,
    validate_body,
)
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import error_docs
from airflow_sync.api.services import connection_writes
from airflow_sync.api.services import connections as service
from airflow_sync.api.services.common import run_db
from airflow_sync.api.wire import context_url, entity, envelope, parse_entity_key, read_body

router = APIRouter(tags=["connections"])

KEY = "Name"
SET = "connections"

#: field types for $filter / $orderby
SCHEMA = {
    "Name": "string",
    "ProviderName": "string",
    "ConnectionType": "string",
    "ConnectionString": "string",
    "ConnectionState": "string",
    "LastTested": "datetime",
    "Origin": "string",
    "Description": "string",
    "CanUpdate": "bool",
    "CanRemove": "bool",
}


def _odata(request: Request) -> Any:
    from airflow_sync.api.odata import parse_odata

    return parse_odata({k: v for k, v in request.query_params.items() if k.startswith("$")}, schema=SCHEMA)


def _list(principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    return service.list_entities(principal, session=session)


def _get(name: str, principal: Principal, *, session: Any) -> dict[str, Any]:
    return service.get_entity(name, principal, session=session)


@router.get(
    "/connections",
    operation_id="listConnections",
    summary="List the connections the engine can use (OData $filter/$select/$orderby/$top/$skip/$count)",
    responses={200: {"model": ConnectionCollectionResponse}, **error_docs(400, 401, 403)},
)
async def list_connections(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    from airflow_sync.api.odata import apply_odata, filter_rows

    query = _odata(request)
    rows = await run_db(_list, principal)
    result = envelope(request, SET, apply_odata(rows, query))
    if query.count:
        result["@odata.count"] = len(filter_rows(rows, query))
    return result


@router.get(
    "/connections/$count",
    operation_id="countConnections",
    summary="Number of connections (after $filter) as plain text",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
        **error_docs(400, 401, 403),
    },
)
async def count_connections(request: Request, principal: CurrentPrincipal) -> PlainTextResponse:
    from airflow_sync.api.odata import filter_rows

    query = _odata(request)
    rows = await run_db(_list, principal)
    return PlainTextResponse(str(len(filter_rows(rows, query))))


@router.get(
    "/connections({key})",
    operation_id="getConnection",
    summary="One connection: connections(X), connections('X'), connections(Name='X')",
    responses={200: {"model": ConnectionResponse}, **error_docs(400, 401, 403, 404)},
)
async def get_connection(key: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return entity(request, SET, await run_db(_get, parse_entity_key(key, KEY), principal))


def _property(row: dict[str, Any], prop: str) -> tuple[str, Any]:
    for name, value in row.items():
        if name.lower() == prop.lower():
            return name, value
    raise ApiError(404, "NotFound", f"Connections have no property {prop!r}.", target=prop)


@router.get(
    "/connections({key})/{prop}",
    operation_id="getConnectionProperty",
    summary="One property of a connection as {'value': ...}",
    responses={
        200: {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "@odata.context": {"type": "string"},
                            "value": {"type": ["string", "null"]},
                        },
                    }
                }
            }
        },
        **error_docs(400, 401, 403, 404),
    },
)
async def get_connection_property(
    key: str, prop: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    row = await run_db(_get, parse_entity_key(key, KEY), principal)
    name, value = _property(row, prop)
    return {"@odata.context": context_url(request, f"{SET}/{name}"), "value": value}


@router.get(
    "/connections({key})/{prop}/$value",
    operation_id="getConnectionPropertyValue",
    summary="One property of a connection as plain text (204 when null)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        204: {"description": "null"},
        **error_docs(400, 401, 403, 404),
    },
)
async def get_connection_property_value(key: str, prop: str, principal: CurrentPrincipal) -> Response:
    row = await run_db(_get, parse_entity_key(key, KEY), principal)
    _, value = _property(row, prop)
    if value is None:
        return Response(status_code=204)
    return PlainTextResponse(str(value))


# ------------------------------------------------------------------------------------------------ writes


def _create(body: ConnectionBody, principal: Principal, *, session: Any) -> dict[str, Any]:
    service.authorize(principal, "POST", body.Name)
    conn = connection_writes.create(body, session=session)
    return service.stored_entity(conn, principal, session=session)


@router.post(
    "/connections",
    status_code=201,
    operation_id="createConnection",
    summary="Create an Airflow connection from ProviderName + a CData connection string",
    responses={201: {"model": ConnectionResponse}, **error_docs(400, 401, 403, 409, 413)},
    openapi_extra=body_spec(ConnectionBody),
)
async def create_connection(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    body = validate_body(ConnectionBody, await read_body(request))
    row = await run_db(_create, body, principal)
    return JSONResponse(entity(request, SET, row), status_code=201)


def _modify(name: str, body: ConnectionPatchBody, principal: Principal, *, session: Any) -> dict[str, Any]:
    service.authorize(principal, "PUT", name)
    conn = connection_writes.modify(name, body, session=session)
    return service.stored_entity(conn, principal, session=session)


@router.put(
    "/connections({key})",
    operation_id="modifyConnection",
    summary="Modify a connection: only the keys given change; refused while a running job uses it",
    responses={200: {"model": ConnectionResponse}, **error_docs(400, 401, 403, 404, 409, 413)},
    openapi_extra=body_spec(ConnectionPatchBody),
)
async def modify_connection(key: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    name = parse_entity_key(key, KEY)
    body = validate_body(ConnectionPatchBody, await read_body(request))
    return entity(request, SET, await run_db(_modify, name, body, principal))


def _delete(name: str, principal: Principal, *, session: Any) -> None:
    service.authorize(principal, "DELETE", name)
    connection_writes.delete(name, session=session)


@router.delete(
    "/connections({key})",
    status_code=204,
    operation_id="deleteConnection",
    summary="Delete a connection; refused (409, naming them) while any job references it",
    responses=error_docs(400, 401, 403, 404, 409),
)
async def delete_connection(key: str, principal: CurrentPrincipal) -> Response:
    await run_db(_delete, parse_entity_key(key, KEY), principal)
    return Response(status_code=204)

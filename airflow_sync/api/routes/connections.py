"""The ``connections`` entity set (connections-tasks spec): list, get, ``$count``, create, modify, delete.

A view and an editor over Airflow's connection store (see :mod:`airflow_sync.api.services.connections`).
Keys come as ``connections(X)``, ``connections('X')`` or ``connections(Name='X')``. Every
``ConnectionString`` in a response has its secrets masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.connection_models import (
    ConnectionBody,
    ConnectionCollectionResponse,
    ConnectionPatchBody,
    ConnectionResponse,
    validate_body,
)
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import body_doc, error_responses, json_content
from airflow_sync.api.odata import odata_parameters
from airflow_sync.api.services import connection_writes
from airflow_sync.api.services import connections as service
from airflow_sync.api.services.common import run_db
from airflow_sync.api.wire import context_url, entity, envelope, key_pattern, parse_entity_key, read_body

router = APIRouter(tags=["connections"])

#: the key in ``connections(...)``, documented with its exact syntax
KeyPath = Annotated[
    str,
    Path(
        description="X, 'X' (a quote inside doubled) or Name='X'",
        json_schema_extra={"pattern": key_pattern("Name")},
    ),
]

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
    responses={200: {"model": ConnectionCollectionResponse}, **error_responses(400, 403)},
    openapi_extra={"parameters": odata_parameters(SCHEMA)},
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
        **error_responses(400, 403),
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
    responses={200: {"model": ConnectionResponse}, **error_responses(400, 403, 404)},
)
async def get_connection(key: KeyPath, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return entity(request, SET, await run_db(_get, parse_entity_key(key, KEY), principal))


def _property(row: dict[str, Any], prop: str) -> tuple[str, Any]:
    for name, value in row.items():
        if name.lower() == prop.lower():
            return name, value
    raise ApiError(404, "NotFound", f"Connections have no property {prop[:100]!r}.", target=prop[:100])


@router.get(
    "/connections({key})/{prop}",
    operation_id="getConnectionProperty",
    summary="One property of a connection as {'value': ...}",
    responses={200: json_content("PropertyValue"), **error_responses(400, 403, 404)},
)
async def get_connection_property(
    key: KeyPath, prop: str, request: Request, principal: CurrentPrincipal
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
        **error_responses(400, 403, 404),
    },
)
async def get_connection_property_value(key: KeyPath, prop: str, principal: CurrentPrincipal) -> Response:
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
    responses={201: {"model": ConnectionResponse}, **error_responses(400, 403, 409, 413)},
    openapi_extra=body_doc(ConnectionBody),
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
    responses={200: {"model": ConnectionResponse}, **error_responses(400, 403, 404, 409, 413)},
    openapi_extra=body_doc(ConnectionPatchBody),
)
async def modify_connection(key: KeyPath, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
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
    responses=error_responses(400, 403, 404, 409),
)
async def delete_connection(key: KeyPath, principal: CurrentPrincipal) -> Response:
    await run_db(_delete, parse_entity_key(key, KEY), principal)
    return Response(status_code=204)

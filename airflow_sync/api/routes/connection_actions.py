"""The connection actions: ``testConnection``, ``getConnectionTables``, ``getConnectionTableColumns``.

Each names a connection in ``ConnectionName`` (JSON or form body) and talks to its database with the engine's
driver under a timeout (:mod:`airflow_sync.api.services.browse`). Reading a connection is enough
(``viewer`` tokens; Airflow users the auth manager lets read connections): nothing is written except the
test outcome, and only stored credentials are used, so no caller can point the server at a host of their
choosing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.connection_models import (
    ConnectionTableColumnsBody,
    ConnectionTableColumnsResponse,
    ConnectionTablesBody,
    ConnectionTablesResponse,
    TestConnectionBody,
    TestConnectionResponse,
    validate_body,
)
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import body_doc, error_responses
from airflow_sync.api.services import browse
from airflow_sync.api.services import connections as service
from airflow_sync.api.services.common import iso, run_db, wire_str
from airflow_sync.api.wire import envelope, read_body
from airflow_sync.jobs.scalars import WS

router = APIRouter(tags=["connections"])

_ERRORS = error_responses(400, 403, 404, 413)


def _readable(name: str, principal: Principal, *, session: Any) -> str:
    """The connection id after the read check (404 / 403 in the envelope)."""
    service.authorize(principal, "GET", name)
    return service.find_record(name, session=session).conn_id


def _timeout(value: int | None) -> int:
    return browse.DEFAULT_TIMEOUT if value is None else value


def _record(name: str, outcome: browse.TestOutcome, *, session: Any) -> str | None:
    when = service.record_state(
        name, ok=outcome.ok, message=outcome.message, server_version=outcome.server_version, session=session
    )
    return iso(when)


@router.post(
    "/testConnection",
    operation_id="testConnection",
    summary="Connect with the engine's driver, run a trivial query, return the outcome and server version",
    responses={200: {"model": TestConnectionResponse}, **_ERRORS},
    openapi_extra=body_doc(TestConnectionBody),
)
async def test_connection(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = validate_body(TestConnectionBody, await read_body(request))
    timeout = _timeout(body.Timeout)
    name = await run_db(_readable, body.ConnectionName.strip(WS), principal)
    outcome = await asyncio.to_thread(browse.test_connection, name, timeout)
    tested = await run_db(_record, name, outcome)
    row = {
        "ConnectionName": name,
        "Result": "Success" if outcome.ok else "Failed",
        "ConnectionState": "Tested" if outcome.ok else "Failed",
        "Message": outcome.message,
        "ServerVersion": outcome.server_version,
        "LastTested": tested,
        "Seconds": f"{outcome.seconds:.3f}",
    }
    return envelope(request, "testConnection", [row])


@router.post(
    "/getConnectionTables",
    operation_id="getConnectionTables",
    summary="Tables and views of a connection's database (TableOrView, Schema, TopTable, SkipTable)",
    responses={200: {"model": ConnectionTablesResponse}, **_ERRORS},
    openapi_extra=body_doc(ConnectionTablesBody),
)
async def get_connection_tables(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = validate_body(ConnectionTablesBody, await read_body(request))
    kind = (body.TableOrView or "ALL").strip(WS).upper()
    include_schema = True if body.IncludeSchema is None else body.IncludeSchema
    include_catalog = bool(body.IncludeCatalog)
    top = body.TopTable
    skip = body.SkipTable or 0
    timeout = _timeout(body.Timeout)
    schema = body.Schema.strip(WS) if body.Schema and body.Schema.strip(WS) else None
    name = await run_db(_readable, body.ConnectionName.strip(WS), principal)
    try:
        tables = await asyncio.to_thread(browse.list_tables, name, schema=schema, timeout=timeout)
    except browse.BrowseError as exc:
        raise browse.to_api_error(name, exc) from None
    if kind != "ALL":
        wanted = "TABLE" if kind == "TABLES" else "VIEW"
        tables = [t for t in tables if t.type == wanted]
    tables = tables[skip:]
    if top is not None:
        tables = tables[:top]
    rows = [
        {
            "TableName": t.name,
            "Schema": t.schema if include_schema else None,
            "Catalog": t.catalog if include_catalog else None,
            "TableType": t.type,
        }
        for t in tables
    ]
    return envelope(request, "getConnectionTables", rows)


@router.post(
    "/getConnectionTableColumns",
    operation_id="getConnectionTableColumns",
    summary="Columns of one table as the engine reflects them (type, nullability, length, key)",
    responses={200: {"model": ConnectionTableColumnsResponse}, **_ERRORS},
    openapi_extra=body_doc(ConnectionTableColumnsBody),
)
async def get_connection_table_columns(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = validate_body(ConnectionTableColumnsBody, await read_body(request))
    timeout = _timeout(body.Timeout)
    try:
        browse.split_table_name(body.Table)
    except ValueError as exc:
        raise ApiError(400, "InvalidParameter", f"Table: {exc}.", target="Table") from None
    name = await run_db(_readable, body.ConnectionName.strip(WS), principal)
    try:
        columns = await asyncio.to_thread(browse.list_columns, name, body.Table, timeout=timeout)
    except browse.BrowseError as exc:
        raise browse.to_api_error(name, exc) from None
    if columns is None:
        raise ApiError(
            404,
            "TableNotFound",
            f"Connection {name!r} has no table or view {body.Table.strip(WS)!r}.",
            target="Table",
        )
    rows = [
        {
            "ColumnName": c.name,
            "DataType": c.data_type,
            "IsNullable": wire_str(c.nullable),
            "MaxLength": wire_str(c.max_length),
            "Precision": wire_str(c.precision),
            "Scale": wire_str(c.scale),
            "IsPrimaryKey": wire_str(c.primary_key),
        }
        for c in columns
    ]
    return envelope(request, "getConnectionTableColumns", rows)

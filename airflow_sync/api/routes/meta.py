"""Service documents: ``$metadata`` (OData CSDL), the OpenAPI document (``openapi.json``, ``$oas``), ``docs``.

Like every endpoint they need credentials (job-api §2); any authenticated caller may read them. A browser
logged into the Airflow UI is authenticated by its session cookie for these GETs, so ``/api.rsc/docs``
works from the UI.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from airflow_sync.api.auth import require

router = APIRouter(include_in_schema=False)

_S, _B, _I = "Edm.String", "Edm.Boolean", "Edm.Int32"

#: job entity properties (job-api §3): writable fields then read-only ones; Query#N is open-ended
JOB_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("JobName", _S), ("JobId", _S), ("Source", _S), ("Destination", _S), ("Scheduled", _B),
    ("ScheduledCron", _S), ("NotifyWindowsEvent", _B), ("SendEmailNotification", _B), ("NotifyEmailTo", _S),
    ("NotifyEmailSubject", _S), ("EmailErrorOnly", _B), ("Verbosity", _I), ("TableNamePrefix", _S),
    ("UseGmtDateTime", _B), ("TruncateTableData", _B), ("DropTable", _B), ("AutoTruncateStrings", _B),
    ("ContinueOnError", _B), ("AlterSchema", _B), ("ReplicateInterval", _I), ("ReplicateIntervalUnit", _S),
    ("ReplicateStartDate", _S), ("BatchSize", _I), ("CommandTimeout", _I), ("SkipDeleted", _B),
    ("OtherCacheOptions", _S), ("CacheSchema", _S), ("PreJob", _S), ("PostJob", _S), ("Type", _S),
    ("Status", _S), ("DagId", _S), ("LastRun", "Edm.DateTimeOffset"), ("NextRun", "Edm.DateTimeOffset"),
    ("CanUpdate", _B), ("CanRemove", _B), ("CanExecute", _B),
)  # fmt: skip

HISTORY_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("Id", _S), ("RunId", _S), ("JobId", _S), ("JobName", _S), ("RunStartDate", "Edm.DateTimeOffset"),
    ("RunEndDate", "Edm.DateTimeOffset"), ("Status", _S), ("Details", _S), ("Runtime", _S),
    ("RecordsAffected", "Edm.Int64"), ("RunType", _S), ("LogFile", _S), ("InstanceId", _S),
)  # fmt: skip

TOKEN_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("Name", _S), ("Role", _S), ("Prefix", _S), ("Created", "Edm.DateTimeOffset"), ("CreatedBy", _S),
    ("LastUsed", "Edm.DateTimeOffset"), ("Revoked", "Edm.DateTimeOffset"),
)  # fmt: skip

RESULT_ROW: tuple[tuple[str, str], ...] = (
    ("JobName", _S), ("RunId", _S), ("Query", _S), ("Status", _S), ("Result", _S), ("Detail", _S),
    ("RecordsAffected", "Edm.Int64"), ("RunStartDate", "Edm.DateTimeOffset"),
    ("RunEndDate", "Edm.DateTimeOffset"),
)  # fmt: skip

LOG_ROW: tuple[tuple[str, str], ...] = (
    ("JobName", _S), ("RunId", _S), ("Query", _S), ("TaskId", _S), ("Try", _I),
    ("RunStartDate", "Edm.DateTimeOffset"), ("LogFile", _S), ("Content", "Edm.Binary"),
)  # fmt: skip

CONNECTION_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("Name", _S), ("ProviderName", _S), ("ConnectionType", _S), ("ConnectionString", _S),
    ("ConnectionState", _S), ("LastTested", "Edm.DateTimeOffset"), ("Origin", _S), ("Description", _S),
    ("CanUpdate", _B), ("CanRemove", _B),
)  # fmt: skip

TASK_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("TaskId", _S), ("JobName", _S), ("JobId", _S), ("Index", _I), ("Query", _S), ("Table", _S),
    ("RowVersion", _S),
)  # fmt: skip

TEST_CONNECTION_ROW: tuple[tuple[str, str], ...] = (
    ("ConnectionName", _S), ("Result", _S), ("ConnectionState", _S), ("Message", _S), ("ServerVersion", _S),
    ("LastTested", "Edm.DateTimeOffset"), ("Seconds", "Edm.Decimal"),
)  # fmt: skip

TABLE_ROW: tuple[tuple[str, str], ...] = (
    ("TableName", _S),
    ("Schema", _S),
    ("Catalog", _S),
    ("TableType", _S),
)

TABLES_PARAMS: tuple[tuple[str, str], ...] = (
    ("ConnectionName", _S), ("TableOrView", _S), ("Schema", _S), ("IncludeSchema", _B),
    ("IncludeCatalog", _B), ("TopTable", _I), ("SkipTable", _I), ("Timeout", _I),
)  # fmt: skip

COLUMN_ROW: tuple[tuple[str, str], ...] = (
    ("ColumnName", _S), ("DataType", _S), ("IsNullable", _B), ("MaxLength", _I), ("Precision", _I),
    ("Scale", _I), ("IsPrimaryKey", _B),
)  # fmt: skip

#: entity set -> (entity type, key, properties)
ENTITY_SETS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "jobs": ("Job", "JobName", JOB_PROPERTIES),
    "history": ("History", "Id", HISTORY_PROPERTIES),
    "tokens": ("Token", "Name", TOKEN_PROPERTIES),
    "connections": ("Connection", "Name", CONNECTION_PROPERTIES),
    "tasks": ("Task", "TaskId", TASK_PROPERTIES),
}

#: action -> (parameters, output row properties)
ACTIONS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "executeJob": ((("JobName", _S), ("JobId", _S), ("WaitForResults", _B), ("Timeout", _I)), RESULT_ROW),
    "executeQuery": ((("JobName", _S), ("JobId", _S), ("WaitForResults", _B), ("Timeout", _I)), RESULT_ROW),
    "cancelJob": ((("JobName", _S), ("JobId", _S)), RESULT_ROW),
    "getJobStatus": ((("JobName", _S), ("JobId", _S), ("PushOnQuery", _B)), RESULT_ROW),
    "getLogs": ((("JobName", _S), ("JobId", _S), ("Days", _I)), LOG_ROW),
    "testConnection": ((("ConnectionName", _S), ("Timeout", _I)), TEST_CONNECTION_ROW),
    "getConnectionTables": (TABLES_PARAMS, TABLE_ROW),
    "getConnectionTableColumns": ((("ConnectionName", _S), ("Table", _S), ("Timeout", _I)), COLUMN_ROW),
}


def _props(props: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"<Property Name={quoteattr(n)} Type={quoteattr(t)}/>" for n, t in props)


def metadata_xml() -> str:
    """The CSDL document (namespace ``CData``) listing entity sets and unbound actions."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        '<Schema Namespace="CData" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for etype, key, props in ENTITY_SETS.values():
        open_type = ' OpenType="true"' if etype == "Job" else ""  # Query#1..n
        parts.append(
            f'<EntityType Name="{etype}"{open_type}><Key><PropertyRef Name="{key}"/></Key>'
            f"{_props(props)}</EntityType>"
        )
    for action, (params, output) in ACTIONS.items():
        parts.append(f'<ComplexType Name="{action}Output">{_props(output)}</ComplexType>')
        param_xml = "".join(f"<Parameter Name={quoteattr(n)} Type={quoteattr(t)}/>" for n, t in params)
        parts.append(
            f'<Action Name="{action}">{param_xml}'
            f'<ReturnType Type="Collection(CData.{action}Output)"/></Action>'
        )
    parts.append('<EntityContainer Name="CData">')
    for name, (etype, _, _) in ENTITY_SETS.items():
        parts.append(f'<EntitySet Name="{escape(name)}" EntityType="CData.{etype}"/>')
    for action in ACTIONS:
        parts.append(f'<ActionImport Name="{action}" Action="CData.{action}"/>')
    parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "".join(parts)


def metadata_json() -> dict[str, Any]:
    """The same catalogue as JSON (``$metadata?$format=json``)."""
    return {
        "entitySets": {
            name: {"entityType": etype, "key": key, "properties": dict(props)}
            for name, (etype, key, props) in ENTITY_SETS.items()
        },
        "actions": {
            name: {"parameters": dict(params), "output": dict(output)}
            for name, (params, output) in ACTIONS.items()
        },
    }


@router.get("/$metadata", dependencies=[Depends(require("read"))])
def get_metadata(request: Request) -> Response:
    """OData service metadata: CSDL XML, or JSON with ``$format=json`` / ``Accept: application/json``."""
    fmt = request.query_params.get("$format", "").lower()
    accept = request.headers.get("accept", "")
    if fmt == "json" or (not fmt and "application/json" in accept and "xml" not in accept):
        return JSONResponse(metadata_json())
    return Response(metadata_xml(), media_type="application/xml")


@router.get("/openapi.json", dependencies=[Depends(require("read"))])
def get_openapi(request: Request) -> JSONResponse:
    """This API's OpenAPI document."""
    return JSONResponse(request.app.openapi())


@router.get("/$oas", dependencies=[Depends(require("read"))])
def get_oas(request: Request) -> JSONResponse:
    """Same document as ``openapi.json`` (CData's name for it)."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[Depends(require("read"))])
def get_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the document above (the browser sends the Airflow UI session cookie)."""
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="airflow_sync API")

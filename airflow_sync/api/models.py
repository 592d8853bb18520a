"""The OpenAPI contract of ``/api.rsc``: request bodies, response models and the error envelope.

Routes read bodies themselves (:func:`airflow_sync.api.wire.read_body`: JSON *or* form, CData's string
scalars) and return plain dicts in CData's wire form. What this module declares is therefore a promise the
server keeps exactly (schemathesis against a live api-server checks it, ``tests/e2e/test_openapi_live.py``):

* a request field's type, requiredness, length and pattern are the ones the server enforces; the scalar
  fragments come from :mod:`airflow_sync.jobs.scalars`, whose patterns the server matches with;
* a response model lists the fields the server sends, with their types (CData emits every scalar as a
  string);
* every error status a route can return is declared with :func:`error_responses` (all in the envelope).

Conventions for routes (see ``/work/coord/NOTES.md``): the endpoint function's name is the operationId in
camelCase (``list_jobs`` -> ``listJobs``; keep names stable, the UI's client is generated from them);
``openapi_extra=body_doc(Model)`` declares the body;
``responses={200: {"model": X}, **error_responses(...)}`` the answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from airflow_sync.jobs import scalars
from airflow_sync.jobs.fields import FIELDS, JOB_NAME_MAX, QUERY_MAX, READ_ONLY
from airflow_sync.jobs.model import UUID_PATTERN

# ------------------------------------------------------------------------------------ scalar field types

#: loose annotation the first body models used; prefer wire_bool / wire_int / wire_str (exact schemas)
Scalar = str | int | bool | None


# Use as ``Field: Annotated[Any, wire_bool("...")] = None`` in a body model: the annotation documents the
# exact wire form; the route validates with wire.to_bool / to_int (the same patterns).


def wire_bool(description: str = "") -> WithJsonSchema:
    """An optional CData boolean field (JSON boolean, 0/1, or true/false/yes/no/1/0 text; null = default)."""
    return WithJsonSchema(scalars.bool_schema(description))


def wire_int(lo: int, hi: int, description: str = "") -> WithJsonSchema:
    """An optional CData integer field in ``lo..hi`` (JSON integer or its digits; null = default)."""
    return WithJsonSchema(scalars.int_schema(lo, hi, description))


def wire_str(
    max_length: int,
    description: str = "",
    *,
    required: bool = False,
    pattern: str | None = None,
    nullable: bool | None = None,
) -> WithJsonSchema:
    """A text field of at most ``max_length`` characters.

    :param required: the value may not be null or blank (list the field in the model's required fields by
        giving it no default)
    :param pattern: what the text must match
    :param nullable: whether JSON null is allowed (null = absent); default: not ``required``
    """
    schema = scalars.str_schema(
        max_length,
        description,
        min_length=1 if required else 0,
        pattern=pattern or (scalars.NOT_BLANK if required else None),
        nullable=(not required) if nullable is None else nullable,
    )
    return WithJsonSchema(schema)


#: the key of a job in an action body: JobName (1-100 chars) or its JobId
JOB_KEY_MAX = JOB_NAME_MAX
QUERY_KEY_PATTERN = r"^[Qq][Uu][Ee][Rr][Yy]#(?:[1-9]\d{0,5})$"


class _Body(BaseModel):
    """Base of action bodies: other fields are ignored (CData clients send extras such as workspaceId)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class JobKeyBody(_Body):
    """cancelJob: name the job by JobName or JobId (one is required)."""

    JobName: Annotated[
        Any, wire_str(JOB_KEY_MAX, "the job's name", pattern=scalars.NOT_BLANK, nullable=False)
    ] = None
    JobId: Annotated[
        Any, wire_str(JOB_KEY_MAX, "instead of JobName", pattern=scalars.NOT_BLANK, nullable=False)
    ] = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"anyOf": [{"required": ["JobName"]}, {"required": ["JobId"]}]},
    )


class ExecuteJobBody(JobKeyBody):
    """executeJob: name the job, wait for the run (default) or return once it is queued."""

    WaitForResults: Annotated[Any, wire_bool("default true: hold the request until the run ends")] = None
    Timeout: Annotated[
        Any, wire_int(0, scalars.INT_MAX, "seconds to wait; 0 = until the end (capped by the server)")
    ] = None
    Async: Annotated[Any, wire_bool("legacy: true = WaitForResults false")] = None


class ExecuteQueryBody(ExecuteJobBody):
    """executeQuery: run only the named queries (Query or Query#N; each must be one of the job's queries)."""

    Query: Annotated[Any, wire_str(QUERY_MAX, "a query of the job", pattern=scalars.NOT_BLANK)] = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "anyOf": [{"required": ["JobName"]}, {"required": ["JobId"]}],
            "patternProperties": {
                QUERY_KEY_PATTERN: scalars.str_schema(QUERY_MAX, pattern=scalars.NOT_BLANK, nullable=False)
            },
        },
    )


class JobStatusBody(_Body):
    """getJobStatus: one job (JobName or JobId) or, without either, every job."""

    JobName: Annotated[
        Any, wire_str(JOB_KEY_MAX, "the job's name; absent = every job", pattern=scalars.NOT_BLANK)
    ] = None
    JobId: Annotated[Any, wire_str(JOB_KEY_MAX, "instead of JobName", pattern=scalars.NOT_BLANK)] = None
    PushOnQuery: Annotated[Any, wire_bool("default true: one row per query as well")] = None


class LogsBody(JobKeyBody):
    """getLogs: the job and how many days back."""

    Days: Annotated[Any, wire_int(1, 3650, "logs of runs started in the last Days days (default 1)")] = None


# ------------------------------------------------------------------------------------------ job schemas


def job_body_schema(*, create: bool) -> dict[str, Any]:
    """The job body (create: JobName, Source, Destination required; modify: every field optional).

    Field names are matched case-insensitively by the server; this document uses CData's spelling.
    ``Query#1..n`` are pattern properties (numbered from 1 without gaps; any ``Query#N`` in a modify
    replaces the whole list). Read-only fields of a GET may be sent back and are ignored, except
    ``Version``: on modify it must still be the stored version (optimistic concurrency, like If-Match).
    """
    props: dict[str, Any] = {}
    required = []
    for spec in FIELDS:
        # modify: a required field may be left out, but never null or blank (same schema as on create)
        props[spec.wire] = spec.json_schema()
        if create and spec.required:
            required.append(spec.wire)
    for name in READ_ONLY:
        props[name] = {"description": "read-only: accepted and ignored", **_ANY_SCALAR}
    props["Type"] = {
        "description": "read-only: only Standard jobs exist (Standard or 1 accepted, any case)",
        "anyOf": [
            {"type": "string", "pattern": r"^[ \t\r\n]*(?:[Ss][Tt][Aa][Nn][Dd][Aa][Rr][Dd]|1)?[ \t\r\n]*$"},
            {"type": "integer", "const": 1},
            {"type": "null"},
        ],
    }
    props["Version"] = {
        "type": ["string", "null"],
        "description": "modify: the version your edit is based on (409 JobConflict if the job changed since)",
    }
    props["JobId"] = (
        {
            "description": "the new job's id (a UUID); left out or blank: a new one is assigned",
            "anyOf": [
                {"type": "string", "pattern": UUID_PATTERN},
                {"type": "string", "pattern": r"^[ \t\r\n]*$"},
                {"type": "null"},
            ],
        }
        if create
        else {"description": "read-only: accepted and ignored", **_ANY_SCALAR}
    )
    props["WorkspaceId"] = {
        "anyOf": [{"type": "string", "pattern": r"^(?:default)?$"}, {"type": "null"}],
        "description": "only 'default' (or empty) exists",
    }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "patternProperties": {
            QUERY_KEY_PATTERN: scalars.str_schema(
                QUERY_MAX, "a REPLICATE statement", pattern=scalars.NOT_BLANK, nullable=False
            ),
            r"^@odata\.": {"description": "OData annotations of a GET response: ignored", **_ANY_SCALAR},
        },
        "additionalProperties": False,
        "description": job_body_schema.__doc__.split("\n\n")[0] if job_body_schema.__doc__ else "",
    }
    if required:
        schema["required"] = required
        # the cross-field rules a schema can state (on modify they depend on the stored job)
        schema["allOf"] = [
            _requires_when_true("Scheduled", "ScheduledCron"),
            _requires_when_true("SendEmailNotification", "NotifyEmailTo"),
        ]
    return schema


def _requires_when_true(flag: str, field: str) -> dict[str, Any]:
    """``if flag is true then field is required and not blank``."""
    true = {
        "anyOf": [
            {"const": True},
            {"type": "integer", "const": 1},
            {"type": "string", "pattern": scalars.words_pattern(scalars.BOOL_WORDS_TRUE)},
        ]
    }
    return {
        "if": {"properties": {flag: true}, "required": [flag]},
        "then": {
            "properties": {field: {"type": "string", "pattern": scalars.NOT_BLANK}},
            "required": [field],
        },
    }


_ANY_SCALAR: dict[str, Any] = {"type": ["string", "number", "integer", "boolean", "null"]}


def job_entity_schema(*, complete: bool) -> dict[str, Any]:
    """A job as the server sends it: every field a string, ``Query#1..n``, the read-only fields.

    :param complete: every field present (a single entity); False for ``$select``-able collection rows
    """
    props: dict[str, Any] = {"@odata.context": {"type": "string"}} if complete else {}
    props["JobId"] = {"type": "string", "description": "UUID assigned at creation, stable across edits"}
    for spec in FIELDS:
        props[spec.wire] = {
            "type": "string",
            **({"description": spec.description} if spec.description else {}),
        }
    read_only = {
        "Type": {"type": "string", "description": "Standard"},
        "Status": {"type": "string", "description": "last run's status, or Not Started"},
        "DagId": {"type": "string"},
        "LastRun": {"type": ["string", "null"], "format": "date-time"},
        "NextRun": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "the next scheduled run as Airflow will create it; null when not scheduled",
        },
        "CanUpdate": {"type": "string", "enum": ["True", "False"]},
        "CanRemove": {"type": "string", "enum": ["True", "False"]},
        "CanExecute": {"type": "string", "enum": ["True", "False"]},
        "Version": {
            "type": "string",
            "description": "content version; send it back (If-Match or Version) to modify only that version",
        },
    }
    props.update(read_only)
    entity: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "patternProperties": {r"^Query#[1-9]\d*$": {"type": "string"}},
        "additionalProperties": False,
    }
    if complete:
        entity["required"] = list(props)
    return entity


#: named JSON schemas merged into ``components.schemas`` by the app's OpenAPI factory
SCHEMAS: dict[str, dict[str, Any]] = {
    "JobCreateBody": job_body_schema(create=True),
    "JobModifyBody": job_body_schema(create=False),
    "Job": job_entity_schema(complete=True),
    "JobRow": job_entity_schema(complete=False),
    "JobCollection": {
        "type": "object",
        "properties": {
            "@odata.context": {"type": "string"},
            "@odata.count": {"type": "integer", "description": "with $count=true: rows matching $filter"},
            "value": {"type": "array", "items": {"$ref": "#/components/schemas/JobRow"}},
        },
        "required": ["@odata.context", "value"],
        "additionalProperties": False,
    },
    "PropertyValue": {
        "type": "object",
        "properties": {"@odata.context": {"type": "string"}, "value": {"type": ["string", "null"]}},
        "required": ["@odata.context", "value"],
        "additionalProperties": False,
    },
}


def ref(name: str) -> dict[str, str]:
    """A ``$ref`` to a schema of :data:`SCHEMAS` (or a pydantic model FastAPI registered)."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(name: str, description: str = "OK") -> dict[str, Any]:
    """A ``responses`` entry whose JSON body is the named schema."""
    return {"description": description, "content": {"application/json": {"schema": ref(name)}}}


# -------------------------------------------------------------------------------------- response models


class ResultRow(BaseModel):
    """A row of executeJob / executeQuery / cancelJob / getJobStatus (Query null = the job-level row)."""

    model_config = ConfigDict(extra="forbid")

    JobName: str
    RunId: str | None
    Query: str | None
    Status: str = Field(description="NOT STARTED, QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED or SKIPPED")
    Result: str | None = Field(description="error text of a failed query or run")
    Detail: str | None = Field(description="Completed, '2 of 5 Tasks Failed', '1200 records'...")
    RecordsAffected: str | None
    RunStartDate: str | None
    RunEndDate: str | None


class ResultCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[ResultRow]


class JobStatusResponse(ResultCollectionResponse):
    """getJobStatus; with a JobName also a flat copy (JobName, JobId, Status, Queries) for old clients."""

    JobName: str | None = Field(None, description="getJobStatus with a JobName: flat copy for old clients")
    JobId: str | None = None
    Status: str | None = None
    Queries: list[ResultRow] | None = None


class HistoryRow(BaseModel):
    """One run of a job (any trigger: API, schedule, Airflow UI); ``$select`` may leave fields out."""

    model_config = ConfigDict(extra="forbid")

    Id: str = ""
    RunId: str = ""
    JobId: str | None = None
    JobName: str = ""
    RunStartDate: str | None = None
    RunEndDate: str | None = None
    Status: str = Field("", description="Queued, Running, Successful, Failed or Cancelled")
    Details: str = ""
    Runtime: str = Field("", description="hh:mm:ss")
    RecordsAffected: str | None = None
    RunType: str = Field("", description="scheduled or manual")
    LogFile: str = ""
    InstanceId: str = ""


class HistoryEntity(HistoryRow):
    odata_context: str = Field(alias="@odata.context")


class HistoryCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(None, alias="@odata.count")
    value: list[HistoryRow]


class LogRow(BaseModel):
    """One task attempt's log; ``Content`` is base64 of its text."""

    model_config = ConfigDict(extra="forbid")

    JobName: str
    RunId: str
    Query: str | None
    TaskId: str
    Try: str
    RunStartDate: str | None
    LogFile: str
    Content: str = Field(description="base64 of the log text")


class LogCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[LogRow]


# ------------------------------------------------------------------------------------- the error envelope


class ErrorDetail(BaseModel):
    """One problem of a request that had several (``error.details``)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    target: str | None = Field(None, description="the field: JobName, Query#2, ScheduledCron, $filter...")
    position: int | None = Field(None, description="0-based character offset in the field's text")


class ErrorBody(ErrorDetail):
    """``error``: the first problem, and every problem in ``details`` when there were several."""

    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    """``{"error": {"code", "message", "target"?, "position"?, "details"?}}`` — every failure looks so."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


_ERROR_TEXT = {
    400: "Bad input: error.target names the field (error.details lists every problem)",
    401: "No or invalid credentials",
    403: "Authenticated, but the role or Airflow permissions do not allow this",
    404: "No such job / resource",
    405: "Method not allowed (the Allow header lists the allowed ones)",
    409: "Conflict: JobExists, JobRunning, JobNotRunning, JobConflict (changed since you read it)...",
    413: "Request body larger than [airflow_sync] max_body_bytes",
    503: "The metadata database is busy; retry",
}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    405: {"Allow": {"schema": {"type": "string"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries for the error envelope (always with 401 and 503, which every route may send).

    :param statuses: the other statuses the route can answer with (400, 403, 404, 409, 413...)
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 401, 503}):
        # the content type spelled out: a plain-text route ($count, $value) still answers errors in JSON
        entry: dict[str, Any] = {
            "description": _ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": ref("ErrorResponse")}},
        }
        if status in _ERROR_HEADERS:
            entry["headers"] = _ERROR_HEADERS[status]
        out[status] = entry
    return out


#: the name the first routes used
error_docs = error_responses


def _without_defaults(schema: Any) -> Any:
    """Drop pydantic's ``default`` keys: an optional field is simply left out, never sent as its default."""
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def body_doc(model: type[BaseModel] | str, *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON or form body (the route reads it itself with ``read_body``).

    :param model: a pydantic model, or the name of a schema in :data:`SCHEMAS`
    :param required: whether a request must carry a body (False: an empty body means ``{}``)
    """
    if isinstance(model, str):
        schema: dict[str, Any] = ref(model)
        form = _form_schema(SCHEMAS[model])
    else:
        schema = _without_defaults(model.model_json_schema(by_alias=True))
        form = _form_schema(schema)
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": form},
            },
        }
    }


def _form_schema(schema: Any) -> Any:
    """The same body as a form: no JSON nulls (a form has none), extra fields are text."""
    if isinstance(schema, list):
        return [_form_schema(v) for v in schema if v != {"type": "null"}]
    if not isinstance(schema, dict):
        return schema
    out = {k: _form_schema(v) for k, v in schema.items()}
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        out["type"] = types[0] if len(types) == 1 else types
    if "anyOf" in out and len(out["anyOf"]) == 1:
        out.update(out.pop("anyOf")[0])
    if out.get("additionalProperties") is True:
        out["additionalProperties"] = {"type": "string"}
    return out


def _lift(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """A pydantic model's JSON schema and its nested models, with references into ``components``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, model.__name__: schema}


SCHEMAS.update(_lift(ErrorResponse))

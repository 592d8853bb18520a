"""Request and response models of the job resources, for the OpenAPI document.

The routes read bodies with :func:`airflow_sync.api.wire.read_body` (JSON *or* form, string scalars) and
return plain dicts in CData's wire form, so these models describe the wire; they do not validate it. Every
scalar is a string on output, as CData emits it; on input strings and JSON types are both accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | bool | None


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class JobBody(_Wire):
    """Create (all required fields) or modify (only the sent fields change) a job; ``Query#N`` extra keys."""

    JobName: str = Field(
        description="1-100 chars [A-Za-z0-9_][A-Za-z0-9_.-]*; the DAG id is <prefix><JobName>"
    )
    Source: str | None = Field(None, description="Airflow connection id of the source database")
    Destination: str | None = Field(None, description="Airflow connection id of the destination database")
    Scheduled: Scalar = None
    ScheduledCron: str | None = None
    Verbosity: Scalar = None
    query_1: str | None = Field(None, alias="Query#1", description="first REPLICATE statement; Query#2...")


class JobResponse(_Wire):
    """A job entity: every stored field as a string, ``Query#1..n`` and the read-only fields."""

    JobId: str
    JobName: str
    Source: str
    Destination: str
    Type: str = "Standard"
    Status: str = Field(description="last run: Not Started, Queued, Running, Successful, Failed, Cancelled")
    DagId: str
    LastRun: str | None = None
    NextRun: str | None = None
    CanUpdate: str
    CanRemove: str
    CanExecute: str


class JobCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[JobResponse]


class ExecuteJobBody(_Wire):
    """executeJob: name the job, wait for the run (default) or return once it is queued."""

    JobName: str | None = None
    JobId: str | None = Field(None, description="instead of JobName")
    WaitForResults: Scalar = Field(None, description="default true: hold the request until the run ends")
    Timeout: Scalar = Field(None, description="seconds to wait; 0 = until the end (capped by the server)")
    Async: Scalar = Field(None, description="legacy: true = WaitForResults false")
    ExecutionType: str | None = Field(None, description="legacy, accepted and ignored")


class ExecuteQueryBody(ExecuteJobBody):
    """executeQuery: run only the named queries (each must be one of the job's queries)."""

    query_1: str | None = Field(None, alias="Query#1", description="a query of the job; Query#2...")


class JobKeyBody(_Wire):
    """cancelJob / getJobStatus / getLogs: name the job."""

    JobName: str | None = None
    JobId: str | None = None


class JobStatusBody(JobKeyBody):
    PushOnQuery: Scalar = Field(None, description="default true: one row per query as well")


class LogsBody(JobKeyBody):
    Days: Scalar = Field(None, description="a positive integer: logs of runs started in the last Days days")


class ResultRow(BaseModel):
    """A row of executeJob / executeQuery / cancelJob / getJobStatus (Query null = the job-level row)."""

    JobName: str
    RunId: str | None = None
    Query: str | None = None
    Status: str = Field(description="NOT STARTED, QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED or SKIPPED")
    Result: str | None = Field(None, description="error text of a failed query or run")
    Detail: str | None = Field(None, description="Completed, '2 of 5 Tasks Failed', '1200 records'...")
    RecordsAffected: str | None = None
    RunStartDate: str | None = None
    RunEndDate: str | None = None


class ResultCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    odata_context: str = Field(alias="@odata.context")
    value: list[ResultRow]
    JobName: str | None = Field(None, description="getJobStatus with a JobName: flat copy for old clients")
    JobId: str | None = None
    Status: str | None = None
    Queries: list[ResultRow] | None = None


class HistoryRow(BaseModel):
    """One run of a job (any trigger: API, schedule, Airflow UI)."""

    Id: str
    RunId: str
    JobId: str | None = None
    JobName: str
    RunStartDate: str | None = None
    RunEndDate: str | None = None
    Status: str = Field(description="Queued, Running, Successful, Failed or Cancelled")
    Details: str
    Runtime: str = Field(description="hh:mm:ss")
    RecordsAffected: str
    RunType: str = Field(description="scheduled or manual")
    LogFile: str
    InstanceId: str


class HistoryCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[HistoryRow]


class LogRow(BaseModel):
    """One task attempt's log; ``Content`` is base64 of its text."""

    JobName: str
    RunId: str
    Query: str | None = None
    TaskId: str
    Try: str
    RunStartDate: str | None = None
    LogFile: str
    Content: str


class LogCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[LogRow]


class ErrorDetail(BaseModel):
    code: str
    message: str
    target: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON or form body of ``model`` (the route reads it itself)."""
    schema = model.model_json_schema(by_alias=True)
    return {
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries for the error envelope."""
    return {status: {"model": ErrorResponse} for status in statuses}

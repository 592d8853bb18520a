"""Request and response models of the ``tasks`` entity set.

Bodies are validated with :func:`airflow_sync.api.connection_models.validate_body`, so the document says
exactly what the server enforces."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_sync.api.connection_models import int_field, str_field
from airflow_sync.jobs.fields import JOB_NAME_MAX, QUERY_MAX
from airflow_sync.jobs.scalars import NOT_BLANK

#: a TaskId: digits (whitespace around allowed)
TASK_ID_PATTERN = r"^[ \t\r\n]*\d{1,30}[ \t\r\n]*$"
INDEX_MAX = 100_000
#: JobName or JobId (a UUID, longer than a name may be)
JOB_KEY_MAX = max(JOB_NAME_MAX, 100)

_JOB = "the job's JobName (or give JobId)"
_QUERY = "the task's REPLICATE statement"
_TABLE = "instead of Query: a source table; the task becomes REPLICATE [Table] ([s].[t] for a qualified name)"
_ROW_VERSION = "the RowVersion read with the task: 409 JobConflict when the job changed since"

JobKeyT = Annotated[Any, str_field(JOB_KEY_MAX, _JOB, pattern=NOT_BLANK)]
QueryT = Annotated[Any, str_field(QUERY_MAX, _QUERY, pattern=NOT_BLANK)]
TableT = Annotated[Any, str_field(1000, _TABLE, pattern=NOT_BLANK)]
IndexT = Annotated[Any, int_field(1, INDEX_MAX, "1-based position; later tasks shift")]
RowVersionT = Annotated[Any, str_field(64, _ROW_VERSION)]
WorkspaceT = Annotated[Any, str_field(20, "only 'default' (or empty) exists", pattern=r"^(?:default)?$")]


def _one_of(*groups: tuple[str, ...]) -> dict[str, Any]:
    """``json_schema_extra``: for each group, at least one of its fields is present and not null."""
    return {
        "allOf": [
            {
                "anyOf": [
                    {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in group
                ]
            }
            for group in groups
        ]
    }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskBody(_Body):
    """Add a task to a job: its Query, or a Table to replicate as it is (Query wins when both are sent)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra=_one_of(("JobName", "JobId"), ("Query", "Table")),
    )

    JobName: JobKeyT = None
    JobId: JobKeyT = None
    Query: QueryT = None
    Table: TableT = None
    Index: IndexT = None
    RowVersion: RowVersionT = None
    WorkspaceId: WorkspaceT = None


class TaskPutBody(_Body):
    """``PUT /tasks('JobName')``: with a TaskId, change that task; without, add one (like POST)."""

    TaskId: Annotated[
        Any, str_field(40, "the task to change; absent = add a task", pattern=TASK_ID_PATTERN)
    ] = None
    JobName: JobKeyT = None
    JobId: JobKeyT = None
    Query: QueryT = None
    Table: TableT = None
    Index: IndexT = None
    RowVersion: RowVersionT = None
    WorkspaceId: WorkspaceT = None


class TaskUpdateBody(TaskPutBody):
    """``PUT /tasks``: the key travels in the body (TaskId; JobName or JobId optional, checked when sent)."""

    TaskId: Annotated[Any, str_field(40, "the task to change", required=True, pattern=TASK_ID_PATTERN)]


class TaskRow(BaseModel):
    """One task: a ``Query#N`` of its job (``$select`` may leave fields out)."""

    model_config = ConfigDict(extra="forbid")

    TaskId: str = Field(
        "", description="server-assigned, stable for the task's life (a large integer as text)"
    )
    JobName: str = ""
    JobId: str = ""
    Index: str = Field("", description="1-based position in the job (dense)")
    Query: str = ""
    Table: str | None = Field(
        None, description="the source table the query reads (null if it does not parse)"
    )
    RowVersion: str = Field("", description="the job's version; changes with any change of the job")


class TaskResponse(TaskRow):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")


class TaskCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(None, alias="@odata.count")
    value: list[TaskRow]

"""Request and response models of the ``tasks`` entity set (validated with
:func:`airflow_sync.api.connection_models.validate_body`, so the document says what the server enforces)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: a 1-based task position: a JSON integer or a string of digits
IndexWire = (
    Annotated[int, Field(ge=1, le=100_000)]
    | Annotated[str, StringConstraints(pattern=r"^\s*\+?0*[1-9]\d{0,4}\s*$")]
)
TaskIdWire = Annotated[str, StringConstraints(pattern=r"^\s*\d{1,30}\s*$")]
JobKeyWire = Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"\S")]
QueryWire = Annotated[str, StringConstraints(min_length=1, max_length=100_000, pattern=r"\S")]
TableWire = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")]
VersionWire = Annotated[str, StringConstraints(max_length=64)]

_JOB = "the job's JobName (or give JobId)"
_QUERY = "the task's REPLICATE statement"
_TABLE = "instead of Query: a source table; the task becomes REPLICATE [Table]"
_INDEX = "1-based position; later tasks shift (default: the end)"
_ROW_VERSION = "the RowVersion read with the task: refused (409) when the job changed since"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskBody(_Body):
    """Add a task to a job: its Query, or a Table to replicate as it is."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "allOf": [
                {"anyOf": [{"required": ["JobName"]}, {"required": ["JobId"]}]},
                {"anyOf": [{"required": ["Query"]}, {"required": ["Table"]}]},
            ]
        },
    )

    JobName: JobKeyWire | None = Field(None, description=_JOB)
    JobId: JobKeyWire | None = Field(None, description="instead of JobName")
    Query: QueryWire | None = Field(None, description=_QUERY)
    Table: TableWire | None = Field(None, description=_TABLE)
    Index: IndexWire | None = Field(None, description=_INDEX)
    RowVersion: VersionWire | None = Field(None, description=_ROW_VERSION)
    WorkspaceId: str | None = Field(None, description="only 'default' exists")


class TaskPutBody(_Body):
    """``PUT /tasks('JobName')``: with a TaskId, change that task; without, add one (like POST)."""

    TaskId: TaskIdWire | None = Field(None, description="the task to change; absent = add a task")
    JobName: JobKeyWire | None = Field(None, description="may be sent; must be the job of the key")
    JobId: JobKeyWire | None = Field(None, description="may be sent; must be the job of the key")
    Query: QueryWire | None = Field(None, description=_QUERY)
    Table: TableWire | None = Field(None, description=_TABLE + " (Query wins when both are sent)")
    Index: IndexWire | None = Field(None, description="move the task to this 1-based position")
    RowVersion: VersionWire | None = Field(None, description=_ROW_VERSION)
    WorkspaceId: str | None = None


class TaskUpdateBody(TaskPutBody):
    """``PUT /tasks``: the key travels in the body (TaskId, and JobName or JobId)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    TaskId: TaskIdWire = Field(description="the task to change")  # type: ignore[assignment]


class TaskResponse(BaseModel):
    """One task: a ``Query#N`` of its job."""

    model_config = ConfigDict(populate_by_name=True)

    odata_context: str | None = Field(None, alias="@odata.context")
    TaskId: str = Field(description="server-assigned, stable for the task's life (a large integer as text)")
    JobName: str
    JobId: str
    Index: str = Field(description="1-based position in the job (dense)")
    Query: str
    Table: str | None = Field(description="the source table the query reads (null if it does not parse)")
    RowVersion: str = Field(description="the job's version; changes with any change of the job")


class TaskCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(None, alias="@odata.count")
    value: list[dict[str, Any]] = Field(description="TaskResponse rows (only the $select fields when given)")

"""Request and response models of ``connections``, ``testConnection``, ``getConnectionTables`` and
``getConnectionTableColumns``.

Bodies arrive as JSON or form posts with CData's string scalars; the routes read them with
:func:`airflow_sync.api.wire.read_body` and validate them with :func:`validate_body` against these models,
so the OpenAPI document states exactly what the server enforces: required fields are required, booleans are
``true``/``"True"``/``"1"``..., integers are numbers or digit strings, unknown fields are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError

from airflow_sync.api.errors import ApiError
from airflow_sync.jobs import scalars

M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- fields: schema + same check
# Each field type carries the schema fragment of airflow_sync.jobs.scalars, as airflow_sync.api.models'
# wire_bool / wire_int / wire_str do (what the document says), and a validator with the very same rule
# (what the server enforces), so the two cannot drift apart.


def _bool_check(value: Any) -> bool | None:
    if value is None:
        return None
    result = scalars.parse_bool(value)
    if result is None:
        raise ValueError("must be true or false (or yes/no, 1/0)")
    return result


def _int_check(lo: int, hi: int) -> Any:
    def check(value: Any) -> int | None:
        if value is None:
            return None
        result = scalars.parse_int(value, lo, hi)
        if result is None:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return result

    return check


def _str_check(max_length: int, *, required: bool, pattern: str | None, nullable: bool) -> Any:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any) -> str | None:
        if value is None:
            if nullable:
                return None
            raise ValueError("must not be null")
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if len(value) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        if required and not value:
            raise ValueError("must not be empty")
        if compiled is not None and not compiled.search(value):
            raise ValueError("has an invalid form (see the API document)")
        return value

    return check


@dataclass(frozen=True)
class Wire:
    """Annotation metadata of a body field: its documented schema, and the check that enforces it."""

    schema: dict[str, Any]
    check: Callable[[Any], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, core: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.schema)


def bool_field(description: str = "") -> Wire:
    """An optional CData boolean (validated to a bool, None when absent)."""
    return Wire(scalars.bool_schema(description), _bool_check)


def int_field(lo: int, hi: int, description: str = "") -> Wire:
    """An optional CData integer in ``lo..hi`` (validated to an int, None when absent)."""
    return Wire(scalars.int_schema(lo, hi, description), _int_check(lo, hi))


def str_field(
    max_length: int, description: str = "", *, required: bool = False, pattern: str | None = None
) -> Wire:
    """Text of at most ``max_length`` characters; ``required``: not null, not blank (give no default)."""
    effective = pattern or (scalars.NOT_BLANK if required else None)
    # the fragment airflow_sync.api.models.wire_str documents
    schema = scalars.str_schema(
        max_length, description, min_length=1 if required else 0, pattern=effective, nullable=not required
    )
    return Wire(schema, _str_check(max_length, required=required, pattern=effective, nullable=not required))


#: ``WorkspaceId``: only the default workspace exists (as the job bodies document it)
WORKSPACE = str_field(20, "only 'default' (or empty) exists", pattern=r"^(?:default)?$")
#: an Airflow connection id as this API creates them (also the key in ``connections('X')``)
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
CONNECTION_STRING_MAX = 8000
TABLE_OR_VIEW = scalars.words_pattern(("TABLES", "VIEWS", "ALL"))
TIMEOUT_MAX = 300


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConnectionBody(_Body):
    """Create a connection: a name, a provider and a CData connection string."""

    Name: Annotated[
        Any,
        str_field(
            250, "the Airflow connection id: 1-250 chars [A-Za-z0-9_.-]", required=True, pattern=NAME_PATTERN
        ),
    ]
    ProviderName: Annotated[
        Any,
        str_field(
            250,
            "PostgreSQL, MySQL, MariaDB, SQLite (CData. prefix allowed), or the Airflow connection type of "
            "another SQL database whose provider is installed (e.g. duckdb)",
            required=True,
        ),
    ]
    ConnectionString: Annotated[
        Any,
        str_field(
            CONNECTION_STRING_MAX,
            "Key=Value;... e.g. Server=db;Port=5432;Database=crm;User=etl;Password=...; "
            "SQLite: Database=/abs/path.db",
            required=True,
        ),
    ]
    Description: Annotated[Any, str_field(5000, "free text")] = None
    Verbosity: Annotated[Any, int_field(1, 5, "accepted for CData compatibility; ignored")] = None
    WorkspaceId: Annotated[Any, WORKSPACE] = None


class ConnectionPatchBody(_Body):
    """Modify a connection: only the keys given in ConnectionString change (an empty value clears one;
    the mask ``********`` keeps the stored value)."""

    ConnectionString: Annotated[Any, str_field(CONNECTION_STRING_MAX, "only these keys change")] = None
    Description: Annotated[Any, str_field(5000, "free text")] = None
    Name: Annotated[Any, str_field(250, "may be sent only unchanged")] = None
    ProviderName: Annotated[Any, str_field(250, "may be sent only unchanged")] = None
    Verbosity: Annotated[Any, int_field(1, 5, "accepted for CData compatibility; ignored")] = None
    WorkspaceId: Annotated[Any, WORKSPACE] = None


class ConnectionRow(BaseModel):
    """A connection; the connection string has its password and secret-like extras masked. ``$select`` may
    leave fields out."""

    model_config = ConfigDict(extra="forbid")

    Name: str = ""
    ProviderName: str = Field("", description="PostgreSQL, MySQL, MariaDB, SQLite, or the Airflow type")
    ConnectionType: str = Field("", description="the Airflow connection type")
    ConnectionString: str = Field("", description="Key=Value;... with secrets as ********")
    ConnectionState: str = Field("", description="Tested, Failed or Untested")
    LastTested: str | None = Field(None, description="ISO-8601 time of the last testConnection")
    Origin: str = Field("", description="metastore (editable), environment, secrets file or secrets backend")
    Description: str = ""
    CanUpdate: str = Field("", description="True or False")
    CanRemove: str = Field("", description="True or False")


class ConnectionResponse(ConnectionRow):
    """One connection entity."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")


class ConnectionCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(None, alias="@odata.count")
    value: list[ConnectionRow]


class ConnectionNameBody(_Body):
    """Name the connection."""

    ConnectionName: Annotated[Any, str_field(250, "the Airflow connection id", required=True)]
    WorkspaceId: Annotated[Any, WORKSPACE] = None


class TestConnectionBody(ConnectionNameBody):
    """testConnection: connect, run a trivial query, read the server version."""

    Timeout: Annotated[Any, int_field(1, TIMEOUT_MAX, "seconds (default 15)")] = None
    ProviderName: Annotated[Any, str_field(250, "accepted for CData compatibility; ignored")] = None
    Verbosity: Annotated[Any, int_field(1, 5, "accepted for CData compatibility; ignored")] = None


class TestConnectionRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ConnectionName: str
    Result: str = Field(description="Success or Failed")
    ConnectionState: str = Field(description="Tested or Failed")
    Message: str = Field(description="the server reached, or why the test failed (secrets masked)")
    ServerVersion: str | None = None
    LastTested: str
    Seconds: str = Field(description="duration of the test, e.g. 0.042")


class TestConnectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[TestConnectionRow]


class ConnectionTablesBody(ConnectionNameBody):
    """getConnectionTables: the tables and views of the connection's database."""

    TableOrView: Annotated[
        Any, str_field(20, "TABLES, VIEWS or ALL (default), any case", pattern=TABLE_OR_VIEW)
    ] = None
    Schema: Annotated[
        Any, str_field(250, "only this schema (PostgreSQL schema, MySQL database, SQLite main)")
    ] = None
    IncludeSchema: Annotated[Any, bool_field("default true: fill Schema")] = None
    IncludeCatalog: Annotated[Any, bool_field("default false: fill Catalog")] = None
    TopTable: Annotated[Any, int_field(0, scalars.INT_MAX, "at most this many rows")] = None
    SkipTable: Annotated[Any, int_field(0, scalars.INT_MAX, "skip this many rows first")] = None
    Timeout: Annotated[Any, int_field(1, TIMEOUT_MAX, "seconds (default 15)")] = None


class TableRowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    TableName: str
    Schema: str | None = None
    Catalog: str | None = None
    TableType: str = Field(description="TABLE or VIEW")


class ConnectionTablesResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[TableRowModel]


class ConnectionTableColumnsBody(ConnectionNameBody):
    """getConnectionTableColumns: the columns of one table as the engine reflects them."""

    Table: Annotated[Any, str_field(1000, "table, schema.table or [schema].[table]", required=True)]
    Timeout: Annotated[Any, int_field(1, TIMEOUT_MAX, "seconds (default 15)")] = None


class ColumnRowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ColumnName: str
    DataType: str = Field(description="the database's own type name, without length (varchar, numeric...)")
    IsNullable: str = Field(description="True or False")
    MaxLength: str | None = Field(None, description="characters (strings) or bytes (binary)")
    Precision: str | None = None
    Scale: str | None = None
    IsPrimaryKey: str = Field(description="True or False")


class ConnectionTableColumnsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[ColumnRowModel]


# ------------------------------------------------------------------------------------------ helpers


def validate_body(model: type[M], body: dict[str, Any]) -> M:
    """``body`` (field names case-insensitive) validated against ``model``.

    :raises ApiError: 400 naming the first unknown, missing or invalid field
    """
    by_lower = {name.lower(): name for name in model.model_fields}
    data: dict[str, Any] = {}
    for key, value in body.items():
        name = by_lower.get(key.strip().lower()) if isinstance(key, str) else None
        if name is None:
            known = ", ".join(model.model_fields)
            message = f"Unknown field {str(key)[:100]!r}; the fields are {known}."
            raise ApiError(400, "InvalidParameter", message, target=str(key)[:100])
        if name in data:
            raise ApiError(400, "InvalidParameter", f"{name} is given twice.", target=name)
        data[name] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        field = str(loc[0]) if loc else None  # later parts name union branches, not fields
        if first.get("type") == "missing":
            message = f"{field} is required."
        else:
            reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            message = f"{field} {reason}." if field else reason
        raise ApiError(400, "InvalidParameter", message, target=field) from None

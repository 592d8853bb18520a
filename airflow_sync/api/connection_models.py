"""Request and response models of ``connections``, ``testConnection``, ``getConnectionTables`` and
``getConnectionTableColumns``.

Bodies arrive as JSON or form posts with CData's string scalars; the routes read them with
:func:`airflow_sync.api.wire.read_body` and validate them with :func:`validate_body` against these models,
so the OpenAPI document states exactly what the server enforces: required fields are required, booleans are
``true``/``"True"``/``"1"``..., integers are numbers or digit strings, unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from airflow_sync.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)

#: a CData boolean: JSON true/false or the strings the server reads as such (any letter case)
BoolWire = (
    bool
    | Annotated[
        str,
        StringConstraints(
            pattern=r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|1|0)\s*$"
        ),
    ]
)
#: a non-negative CData integer: a JSON number or a string of digits
CountWire = (
    Annotated[int, Field(ge=0, le=1_000_000_000)]
    | Annotated[str, StringConstraints(pattern=r"^\s*\+?\d{1,9}\s*$")]
)
#: a timeout in seconds, 1-300
TimeoutWire = (
    Annotated[int, Field(ge=1, le=300)]
    | Annotated[str, StringConstraints(pattern=r"^\s*([1-9]|[1-9]\d|[12]\d\d|300)\s*$")]
)
#: an Airflow connection id as this API creates them (also the key in ``connections('X')``)
ConnectionNameWire = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", min_length=1, max_length=250)
]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"\S")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConnectionBody(_Body):
    """Create a connection: a name, a provider and a CData connection string."""

    Name: ConnectionNameWire = Field(description="the Airflow connection id: 1-250 chars [A-Za-z0-9_.-]")
    ProviderName: NonEmpty = Field(
        description="PostgreSQL, MySQL, MariaDB, SQLite (CData. prefix allowed), or the Airflow connection "
        "type of another SQL database whose hook is installed (e.g. duckdb)"
    )
    ConnectionString: Annotated[str, StringConstraints(max_length=8000)] = Field(
        description="Key=Value;... e.g. Server=db;Port=5432;Database=crm;User=etl;Password=...; "
        "SQLite: Database=/abs/path.db"
    )
    Description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    Verbosity: CountWire | None = Field(None, description="accepted for CData compatibility; ignored")
    WorkspaceId: str | None = Field(None, description="only 'default' exists")


class ConnectionPatchBody(_Body):
    """Modify a connection: only the keys given in ConnectionString change (an empty value clears one;
    the mask ``********`` keeps the stored value)."""

    ConnectionString: Annotated[str, StringConstraints(max_length=8000)] | None = None
    Description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    Name: str | None = Field(None, description="may be sent only unchanged")
    ProviderName: str | None = Field(None, description="may be sent only unchanged")
    Verbosity: CountWire | None = Field(None, description="accepted for CData compatibility; ignored")
    WorkspaceId: str | None = None


class ConnectionResponse(BaseModel):
    """A connection entity; the connection string has its password and secret-like extras masked."""

    model_config = ConfigDict(populate_by_name=True)

    odata_context: str | None = Field(None, alias="@odata.context")
    Name: str
    ProviderName: str = Field(
        description="PostgreSQL, MySQL, MariaDB, SQLite, or the Airflow connection type"
    )
    ConnectionType: str = Field(description="the Airflow connection type")
    ConnectionString: str = Field(description="Key=Value;... with secrets as ********")
    ConnectionState: str = Field(description="Tested, Failed or Untested")
    LastTested: str | None = Field(None, description="ISO-8601 time of the last testConnection")
    Origin: str = Field(description="metastore (editable), environment or secrets file (read-only)")
    Description: str
    CanUpdate: str = Field(description="True or False")
    CanRemove: str = Field(description="True or False")


class ConnectionCollectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(None, alias="@odata.count")
    value: list[dict[str, Any]] = Field(
        description="ConnectionResponse rows (only $select fields when given)"
    )


class ConnectionNameBody(_Body):
    """Name the connection."""

    ConnectionName: NonEmpty = Field(description="the Airflow connection id")
    WorkspaceId: str | None = None


class TestConnectionBody(ConnectionNameBody):
    """testConnection: connect, run a trivial query, read the server version."""

    Timeout: TimeoutWire | None = Field(None, description="seconds, 1-300 (default 15)")
    ProviderName: str | None = Field(None, description="accepted for CData compatibility; ignored")
    Verbosity: CountWire | None = Field(None, description="accepted for CData compatibility; ignored")


class TestConnectionRow(BaseModel):
    ConnectionName: str
    Result: str = Field(description="Success or Failed")
    ConnectionState: str = Field(description="Tested or Failed")
    Message: str = Field(description="the server reached, or why the test failed (secrets masked)")
    ServerVersion: str | None = None
    LastTested: str
    Seconds: str = Field(description="duration of the test, e.g. 0.042")


class TestConnectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[TestConnectionRow]


class ConnectionTablesBody(ConnectionNameBody):
    """getConnectionTables: the tables and views of the connection's database."""

    TableOrView: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^\s*([Tt][Aa][Bb][Ll][Ee][Ss]|[Vv][Ii][Ee][Ww][Ss]|[Aa][Ll][Ll])\s*$"
            ),
        ]
        | None
    ) = Field(None, description="TABLES, VIEWS or ALL (default)")
    Schema: Annotated[str, StringConstraints(max_length=250)] | None = Field(
        None, description="only this schema (PostgreSQL schema, MySQL database, SQLite main)"
    )
    IncludeSchema: BoolWire | None = Field(None, description="default true: fill Schema")
    IncludeCatalog: BoolWire | None = Field(None, description="default false: fill Catalog")
    TopTable: CountWire | None = Field(None, description="at most this many rows")
    SkipTable: CountWire | None = Field(None, description="skip this many rows first")
    Timeout: TimeoutWire | None = Field(None, description="seconds, 1-300 (default 15)")


class TableRowModel(BaseModel):
    TableName: str
    Schema: str | None = None
    Catalog: str | None = None
    TableType: str = Field(description="TABLE or VIEW")


class ConnectionTablesResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[TableRowModel]


class ConnectionTableColumnsBody(ConnectionNameBody):
    """getConnectionTableColumns: the columns of one table as the engine reflects them."""

    Table: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")] = Field(
        description="table, schema.table or [schema].[table]"
    )
    Timeout: TimeoutWire | None = Field(None, description="seconds, 1-300 (default 15)")


class ColumnRowModel(BaseModel):
    ColumnName: str
    DataType: str = Field(description="the database's own type name, without length (varchar, numeric...)")
    IsNullable: str = Field(description="True or False")
    MaxLength: str | None = Field(None, description="characters (strings) or bytes (binary)")
    Precision: str | None = None
    Scale: str | None = None
    IsPrimaryKey: str = Field(description="True or False")


class ConnectionTableColumnsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    odata_context: str = Field(alias="@odata.context")
    value: list[ColumnRowModel]


# ------------------------------------------------------------------------------------------ helpers


def body_spec(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON or form body of ``model`` (the route reads it itself)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }


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
            raise ApiError(
                400, "InvalidParameter", f"Unknown field {key!r}; the fields are {known}.", target=key
            )
        if name in data:
            raise ApiError(400, "InvalidParameter", f"{name} is given twice.", target=name)
        data[name] = value
    if str(data.get("WorkspaceId") or "default").strip() not in ("", "default"):
        raise ApiError(
            400,
            "InvalidParameter",
            f"WorkspaceId '{data['WorkspaceId']}' does not exist; only the 'default' workspace is served.",
            target="WorkspaceId",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        field = str(loc[0]) if loc else None  # later parts name union branches, not fields
        kind = first.get("type", "")
        if kind == "missing":
            message = f"{field} is required."
        else:
            message = f"{field}: {_reason(first)}." if field else _reason(first)
        raise ApiError(400, "InvalidParameter", message, target=field) from None


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "string_pattern_mismatch" or kind.startswith(("bool", "int")):
        return "has an invalid value (see the API document for the accepted forms)"
    return str(error.get("msg", "invalid value"))

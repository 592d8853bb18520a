"""Any other SQLAlchemy database: SQLAlchemy for quoting, reflection and type names; DBAPI executemany.

Correct rather than fast: portable SQL only (correlated UPDATE, NOT EXISTS), a regular staging table
(temporary-table syntax differs between databases) and no swap tricks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import types as sat
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from airflow_sync.engine.dialects.base import Converter, Dialect, to_bool, to_json_text, to_str
from airflow_sync.engine.types import ColType, Column, TableSchema


def _from_sa(t: Any) -> ColType:
    """Neutral type of a reflected SQLAlchemy type (generic classes first, most specific first)."""
    if isinstance(t, sat.Boolean):
        return ColType("bool")
    if isinstance(t, sat.SmallInteger):
        return ColType("int16")
    if isinstance(t, sat.BigInteger):
        return ColType("int64")
    if isinstance(t, sat.Integer):
        return ColType("int32")
    if isinstance(t, sat.Float):
        precision = getattr(t, "precision", None)
        return ColType("float32" if precision is not None and precision <= 24 else "float64")
    if isinstance(t, sat.Numeric):
        return ColType("decimal", precision=t.precision, scale=t.scale if t.precision else None)
    if isinstance(t, sat.DateTime):
        return ColType("timestamp", tz=bool(getattr(t, "timezone", False)))
    if isinstance(t, sat.Date):
        return ColType("date")
    if isinstance(t, sat.Time):
        return ColType("time")
    if isinstance(t, sat.JSON):
        return ColType("json")
    if isinstance(t, sat.Uuid):
        return ColType("uuid")
    if isinstance(t, (sat.LargeBinary, sat._Binary)):
        return ColType("binary", length=getattr(t, "length", None))
    if isinstance(t, sat.String):
        if isinstance(t, sat.Text) or not t.length:
            return ColType("text")
        return ColType("string", length=t.length)
    return ColType("text")


def _to_sa(t: ColType) -> Any:
    k = t.kind
    if k == "bool":
        return sat.Boolean()
    if k == "int16":
        return sat.SmallInteger()
    if k == "int32":
        return sat.Integer()
    if k == "int64":
        return sat.BigInteger()
    if k == "decimal":
        return sat.Numeric(t.precision, t.scale) if t.precision else sat.Numeric()
    if k == "float32":
        return sat.Float(precision=24)
    if k == "float64":
        return sat.Double()
    if k == "string":
        return sat.String(t.length) if t.length else sat.Text()
    if k == "date":
        return sat.Date()
    if k == "time":
        return sat.Time()
    if k == "timestamp":
        return sat.DateTime(timezone=t.tz)
    if k == "binary":
        return sat.LargeBinary(t.length)
    if k == "json":
        return sat.Text()
    if k == "uuid":
        return sat.String(36)
    return sat.Text()


class GenericDialect(Dialect):
    name = "generic"
    transactional_ddl = False

    def __init__(self, url: URL) -> None:
        super().__init__(url)
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.sa = self.engine.dialect
        style = self.sa.paramstyle
        self.placeholder = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1"}.get(style, "?")

    def connect(self) -> Any:
        return self.engine.raw_connection()

    def quote_ident(self, name: str) -> str:
        return self.sa.identifier_preparer.quote_identifier(name)

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        insp = sa.inspect(self.engine)
        if not insp.has_table(name, schema=schema):
            return None
        cols = tuple(
            Column(c["name"], _from_sa(c["type"]), bool(c.get("nullable", True)), str(c["type"]))
            for c in insp.get_columns(name, schema=schema)
        )
        pk = tuple(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or ())
        return TableSchema(cols, pk)

    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        st = _to_sa(t)
        if key and isinstance(st, sat.Text):
            st = sat.String(255)
        return str(st.compile(dialect=self.sa))

    def create_schema(self, conn: Any, schema: str) -> None:
        if schema not in sa.inspect(self.engine).get_schema_names():
            self.execute(conn, f"CREATE SCHEMA {self.quote_ident(schema)}")

    def create_stage(
        self, conn: Any, schema: str | None, target: str, columns: Any, tag: str, keys: Any = ()
    ) -> str:
        stage = self.qualify(schema, f"_as_stage_{tag}")
        cols = ", ".join(self.quote_ident(c) for c in columns)
        self.execute(
            conn, f"CREATE TABLE {stage} AS SELECT {cols} FROM {self.qualify(schema, target)} WHERE 1=0"
        )
        return stage

    def swap_tables(self, conn: Any, schema: str | None, live: str, new: str) -> None:
        self.execute(conn, self.drop_table_sql(schema, live))
        self.execute(conn, f"ALTER TABLE {self.qualify(schema, new)} RENAME TO {self.quote_ident(live)}")
        conn.commit()

    def reader(self, t: ColType, native: str = "") -> Converter | None:
        if t.kind == "bool":
            return to_bool
        if t.kind == "json":
            return to_json_text
        if t.kind == "uuid":
            return to_str
        return None

    def writer(self, t: ColType, native: str, use_gmt: bool) -> Converter | None:
        if t.kind in ("json", "uuid"):
            return to_str
        return None

    def canceller(self, conn: Any) -> Callable[[], None]:
        raw = getattr(conn, "dbapi_connection", conn)
        fn = getattr(raw, "interrupt", None) or getattr(raw, "cancel", None)
        return fn if callable(fn) else (lambda: None)

    def classify(self, exc: BaseException) -> str | None:
        dbapi = self.sa.dbapi
        if dbapi is None or not isinstance(exc, dbapi.Error):
            return None
        try:
            if self.sa.is_disconnect(exc, None, None):  # type: ignore[arg-type]
                return "transient"
        except Exception:
            pass
        return "terminal"

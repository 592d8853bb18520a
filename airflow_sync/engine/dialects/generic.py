"""Any other SQLAlchemy database: SQLAlchemy for quoting, reflection and type names; DBAPI executemany.

Correct rather than fast: portable SQL only (correlated UPDATE, NOT EXISTS), a regular staging table
(temporary-table syntax differs between databases) and no swap tricks. Reflection runs on the run's own
connection (an embedded database such as DuckDB refuses a second connection to its file), through the
standard ``information_schema`` where the database has it (probed once, on a fresh connection), else
the SQLAlchemy dialect's inspector. The standard views first: a dialect's inspector may not work with the
installed SQLAlchemy (duckdb_engine's catalog queries under SQLAlchemy 2.1), and its failure would abort
the transaction that holds the DDL just made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import types as sat
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from airflow_sync.engine.dialects.base import Converter, Dialect, to_bool, to_json_text, to_str
from airflow_sync.engine.types import ColType, Column, TableSchema, parse_sql_type


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


def _standard_type(data_type: str, length: Any, precision: Any, scale: Any) -> ColType:
    """Neutral type of an ``information_schema.columns`` row."""
    t = parse_sql_type(data_type)
    if t.kind == "string" and t.length is None and length:
        return ColType("string", length=int(length))
    if t.kind == "decimal" and t.precision is None and precision:
        return ColType("decimal", precision=int(precision), scale=int(scale or 0))
    return t


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
        self._sa: dict[int, Any] = {}
        #: the database has the standard information_schema views (None: not probed yet)
        self._standard: bool | None = None

    def connect(self) -> Any:
        # one SQLAlchemy connection per DBAPI connection: the inspector reflects through it
        sa_conn = self.engine.connect()
        raw = sa_conn.connection
        self._sa[id(raw)] = sa_conn
        if self._standard is None:
            self._standard = self._has_information_schema(raw)
        return raw

    def _has_information_schema(self, raw: Any) -> bool:
        cur = raw.cursor()
        try:
            cur.execute("SELECT column_name FROM information_schema.columns WHERE 1=0")
            cur.fetchall()
            return True
        except Exception:
            return False
        finally:
            cur.close()
            self.rollback(raw)

    def close(self, conn: Any) -> None:
        sa_conn = self._sa.pop(id(conn), None)
        try:
            if sa_conn is not None:
                sa_conn.close()
            else:
                super().close(conn)
        except Exception:  # already gone
            pass

    def _inspector(self, conn: Any) -> Any:
        sa_conn = self._sa.get(id(conn))
        return sa.inspect(sa_conn if sa_conn is not None else self.engine)

    def quote_ident(self, name: str) -> str:
        return self.sa.identifier_preparer.quote_identifier(name)

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        if self._standard:
            return self._reflect_standard(conn, schema, name)
        insp = self._inspector(conn)
        if not insp.has_table(name, schema=schema):
            return None
        cols = tuple(
            Column(c["name"], _from_sa(c["type"]), bool(c.get("nullable", True)), str(c["type"]))
            for c in insp.get_columns(name, schema=schema)
        )
        pk = tuple(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or ())
        return TableSchema(cols, pk)

    def _reflect_standard(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        """Columns and key from ``information_schema`` (SQL standard), types from their SQL names."""
        p = self.placeholder
        where = f"table_name = {p}" + (f" AND table_schema = {p}" if schema else "")
        args = (name, schema) if schema else (name,)
        cur = conn.cursor()
        try:
            cur.execute(
                "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
                f"is_nullable FROM information_schema.columns WHERE {where} ORDER BY ordinal_position",
                args,
            )
            rows = cur.fetchall()
            if not rows:
                return None
            cols = tuple(
                Column(n, _standard_type(str(dt), size, prec, scale), str(null).upper() == "YES", str(dt))
                for n, dt, size, prec, scale, null in rows
            )
            cur.execute(
                "SELECT k.column_name FROM information_schema.table_constraints c "
                "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
                "AND k.table_name = c.table_name AND k.table_schema = c.table_schema "
                f"WHERE c.constraint_type = 'PRIMARY KEY' AND c.{where.replace(' AND ', ' AND c.')} "
                "ORDER BY k.ordinal_position",
                args,
            )
            pk = tuple(r[0] for r in cur.fetchall())
        finally:
            cur.close()
        return TableSchema(cols, pk)

    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        st = _to_sa(t)
        if key and isinstance(st, sat.Text):
            st = sat.String(255)
        return str(st.compile(dialect=self.sa))

    def create_schema(self, conn: Any, schema: str) -> None:
        if self._standard:
            p = self.placeholder
            sql = f"SELECT 1 FROM information_schema.schemata WHERE schema_name = {p}"
            if self.scalar(conn, sql, (schema,)) is None:
                self.execute(conn, f"CREATE SCHEMA {self.quote_ident(schema)}")
        elif schema not in self._inspector(conn).get_schema_names():
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

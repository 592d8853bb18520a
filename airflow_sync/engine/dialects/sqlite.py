"""SQLite: stdlib ``sqlite3``, explicit transactions, ``executemany`` in one transaction (the fast path).

SQLite has no schemas (``CacheSchema`` is ignored), no real types (we declare descriptive type names and
reflect them back) and no server: timeouts use a progress handler and cancellation ``interrupt()``.
Decimals wider than 15 digits are declared ``DECIMAL_TEXT(p,s)`` (TEXT affinity) because NUMERIC affinity
would round them through a double.
"""

from __future__ import annotations

import re
import sqlite3
import time as _time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow_sync.engine.dialects.base import (
    Converter,
    Dialect,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_json_text,
    to_str,
    to_time,
)
from airflow_sync.engine.dialects.sqlite_ingest import release
from airflow_sync.engine.dialects.sqlite_text import load_lines, raw_check
from airflow_sync.engine.types import ColType, Column, TableSchema

_NUM = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


class _Cursor(sqlite3.Cursor):
    """Records when each statement starts so the progress handler can enforce CommandTimeout."""

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:  # type: ignore[override]
        self.connection._started = _time.monotonic()  # type: ignore[attr-defined]
        return super().execute(sql, parameters)  # type: ignore[return-value]

    def executemany(self, sql: str, seq: Any, /) -> _Cursor:  # type: ignore[override]
        self.connection._started = _time.monotonic()  # type: ignore[attr-defined]
        return super().executemany(sql, seq)  # type: ignore[return-value]


class _Connection(sqlite3.Connection):
    _started: float = 0.0
    timed_out: bool = False
    airflow_sync_scratch: list[str] | None = None  # sqlite_ingest's attached scratch files

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


def parse_type(decl: str) -> ColType | None:
    """Neutral type of a declared SQLite column type (None for an empty declaration)."""
    d = decl.strip().upper()
    if not d:
        return None
    m = _NUM.search(d)
    p = int(m.group(1)) if m else None
    s = int(m.group(2)) if m and m.group(2) else None
    base = d.split("(")[0].strip()
    if "BOOL" in base:
        return ColType("bool")
    if base.startswith("DECIMAL_TEXT") or base in ("DECIMAL", "NUMERIC", "NUMBER", "MONEY"):
        return ColType("decimal", precision=p, scale=s if p is not None else None)
    if "INT" in base:
        return ColType("int64")
    if base in ("TIMESTAMPTZ", "DATETIMETZ") or "WITH TIME ZONE" in base:
        return ColType("timestamp", tz=True)
    if base in ("DATETIME", "TIMESTAMP") or base.startswith("TIMESTAMP"):
        return ColType("timestamp")
    if base == "DATE":
        return ColType("date")
    if base.startswith("TIME"):
        return ColType("time")
    if base in ("JSON", "JSONB"):
        return ColType("json")
    if base == "UUID":
        return ColType("uuid")
    if "CHAR" in base or "CLOB" in base or "TEXT" in base or "STRING" in base:
        if "CHAR" in base and p is not None:
            return ColType("string", length=p)
        return ColType("text")
    if "BLOB" in base or "BINARY" in base or "BYTEA" in base:
        return ColType("binary")
    if base in ("FLOAT", "REAL4", "FLOAT4"):
        return ColType("float32") if base != "FLOAT" else ColType("float64")
    if "REAL" in base or "FLOA" in base or "DOUB" in base:
        return ColType("float64")
    return ColType("decimal") if base else None


class SQLiteDialect(Dialect):
    name = "sqlite"
    placeholder = "?"

    def connect(self) -> Any:
        path = self.url.database or ":memory:"
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30, factory=_Connection
        )
        return conn

    def begin(self, conn: Any) -> None:
        if not conn.in_transaction:
            conn.execute("BEGIN")

    def commit(self, conn: Any) -> None:
        if conn.in_transaction:
            conn.execute("COMMIT")
        release(conn)

    def rollback(self, conn: Any) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            release(conn)
        except Exception:
            pass

    def set_timeout(self, conn: Any, seconds: int) -> None:
        if seconds <= 0:
            return
        # waiting for another writer's lock counts too
        conn.execute(f"PRAGMA busy_timeout = {int(seconds) * 1000}")

        def check() -> int:
            if _time.monotonic() - conn._started > seconds:
                conn.timed_out = True
                return 1
            return 0

        conn.set_progress_handler(check, 10_000)

    def canceller(self, conn: Any) -> Callable[[], None]:
        return conn.interrupt  # type: ignore[no-any-return]

    def qualify(self, schema: str | None, name: str) -> str:
        # SQLite has no schemas; CacheSchema is ignored. Always "main": the source may be ATTACHed to the
        # destination connection under another name and must never be written to by mistake.
        return '"main".' + self.quote_ident(name)

    def create_schema(self, conn: Any, schema: str) -> None:
        return None

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        prefix = self.quote_ident(schema if schema and schema.lower() == "temp" else "main") + "."
        rows = conn.execute(f"PRAGMA {prefix}table_info({self.quote_ident(name)})").fetchall()
        if not rows:
            return None
        cols = []
        pk: list[tuple[int, str]] = []
        for _cid, cname, decl, notnull, _dflt, pkpos in rows:
            t = parse_type(decl or "")
            cols.append(Column(cname, t or ColType("text"), not notnull and not pkpos, native=decl or ""))
            if pkpos:
                pk.append((pkpos, cname))
        return TableSchema(tuple(cols), tuple(n for _, n in sorted(pk)))

    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        k = t.kind
        if k == "bool":
            return "BOOLEAN"
        if k == "int16":
            return "SMALLINT"
        if k == "int32":
            return "INTEGER"
        if k == "int64":
            return "BIGINT"
        if k == "decimal":
            if t.precision is not None and t.precision <= 15:
                return f"NUMERIC({t.precision},{t.scale or 0})"
            if t.precision is not None:
                return f"DECIMAL_TEXT({t.precision},{t.scale or 0})"
            return "DECIMAL_TEXT"
        if k == "float32":
            return "REAL4"
        if k == "float64":
            return "DOUBLE"
        if k == "string":
            return f"VARCHAR({t.length})" if t.length else "TEXT"
        if k == "text":
            return "TEXT"
        if k == "date":
            return "DATE"
        if k == "time":
            return "TIME"
        if k == "timestamp":
            return "TIMESTAMPTZ" if t.tz else "DATETIME"
        if k == "binary":
            return "BLOB"
        if k == "json":
            return "JSON"
        if k == "uuid":
            return "UUID"
        return "TEXT"

    def create_table_sql(
        self, schema: str | None, name: str, columns: Sequence[Column], primary_key: Sequence[str]
    ) -> str:
        # a single integer key becomes the rowid ("INTEGER PRIMARY KEY"): no separate key index to maintain
        key = primary_key[0] if len(primary_key) == 1 else None
        col = next((c for c in columns if c.name == key), None)
        if col is None or col.type.kind not in ("int16", "int32", "int64"):
            return super().create_table_sql(schema, name, columns, primary_key)
        defs = [
            f"{self.quote_ident(c.name)} "
            + ("INTEGER PRIMARY KEY" if c.name == key else self.type_sql(c.type))
            for c in columns
        ]
        return f"CREATE TABLE {self.qualify(schema, name)} (" + ", ".join(defs) + ")"

    def alter_type_sql(self, schema: str | None, table: str, column: Column) -> list[str]:
        # SQLite stores any value in any column: a wider declared type changes nothing about storage
        return []

    def create_stage(
        self,
        conn: Any,
        schema: str | None,
        target: str,
        columns: Sequence[str],
        tag: str,
        keys: Sequence[str] = (),
    ) -> str:
        name = f"_as_stage_{tag}"
        stage = "temp." + self.quote_ident(name)
        cols = ", ".join(self.quote_ident(c) for c in columns)
        conn.execute(f"DROP TABLE IF EXISTS {stage}")
        conn.execute(f"CREATE TABLE {stage} AS SELECT {cols} FROM {self.qualify(schema, target)} WHERE 0")
        if keys:
            idx = "temp." + self.quote_ident(name + "_k")
            conn.execute(
                f"CREATE INDEX {idx} ON {self.quote_ident(name)} ({', '.join(map(self.quote_ident, keys))})"
            )
        return stage

    def same_representation(self, src: Column, dst: Column) -> bool:
        return src.type == dst.type

    def attach(self, conn: Any, source: Dialect) -> str | None:
        if source.name != "sqlite" or not source.url.database or conn.in_transaction:
            return None
        conn.execute("ATTACH DATABASE ? AS as_src", (source.url.database,))
        return '"as_src".'

    def copy_query(
        self, src_conn: Any, sql: str, dst_conn: Any, table: str, columns: Sequence[Column], token: Any
    ) -> int | None:
        if src_conn is not dst_conn and ' FROM "as_src".' not in sql:
            return None  # the source is not attached to the destination connection
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        cur = dst_conn.cursor()
        try:
            cur.execute(f"INSERT INTO {table} ({cols}) {sql}")
            return int(cur.rowcount)
        finally:
            cur.close()

    def text_load_ready(self, conn: Any) -> bool:
        return True

    def load_text(
        self, conn: Any, table: str, columns: Sequence[Column], blocks: Iterable[bytes], label: str
    ) -> int:
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        return load_lines(conn, table, cols, len(columns), blocks)

    def upsert_from_stage(
        self, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int] | None:
        # ON CONFLICT probes the key once per stage row; UPDATE ... FROM with the change test costs several
        # times more per row. It needs a PRIMARY KEY or UNIQUE constraint on exactly the key columns:
        # SQLite refuses the statement while preparing it otherwise, before touching a row.
        vals = [c for c in columns if c not in keys]
        if not keys or not vals:
            return None
        q = self.quote_ident
        cols = ", ".join(q(c) for c in columns)
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in vals)
        existing = self.scalar(
            conn, f"SELECT count(*) FROM {stage} s WHERE EXISTS (SELECT 1 FROM {target} t WHERE "
            f"{self._key_match('t', 's', keys)})",
        )  # fmt: skip
        staged = self.scalar(conn, f"SELECT count(*) FROM {stage}")
        try:
            # "WHERE true" keeps the parser from reading ON CONFLICT as a join constraint; in key order (the
            # stage's index) the target's pages are visited once each, in file order, where the rows' arrival
            # order (the check column's) visits them at random: ~30% of the statement on 10,000 rows
            written = self.execute(
                conn,
                f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} WHERE true "
                f"ORDER BY {', '.join(q(k) for k in keys)} "
                f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {sets} "
                f"WHERE {self._changed(target, 'excluded', vals)}",
            )
        except sqlite3.OperationalError as exc:
            if "ON CONFLICT clause does not match" in str(exc):
                return None
            raise
        inserted = int(staged) - int(existing)
        return inserted, max(0, written - inserted)

    def distinct(self, a: str, b: str) -> str:
        return f"({a} IS NOT {b})"

    def update_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str | None:
        vals = [c for c in columns if c not in keys]
        if not vals:
            return None
        sets = ", ".join(f"{self.quote_ident(c)} = s.{self.quote_ident(c)}" for c in vals)
        return (
            f"UPDATE {target} SET {sets} FROM {stage} AS s WHERE {self._key_match(target, 's', keys)} "
            f"AND {self._changed(target, 's', vals)}"
        )

    def literal(self, value: Any, t: ColType) -> str:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super().literal(value, t)

    def reader(self, t: ColType, native: str = "") -> Converter | None:
        k = t.kind
        if k == "bool":
            return to_bool
        if k == "decimal":
            return to_decimal
        if k == "timestamp":
            if t.tz:
                return lambda v: (
                    None
                    if v is None
                    else (lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))(to_datetime(v))
                )
            return to_datetime
        if k == "date":
            return to_date
        if k == "time":
            return to_time
        if k == "json":
            return to_json_text
        if k == "uuid":
            return to_str
        return None

    def writer(self, t: ColType, native: str, use_gmt: bool) -> Converter | None:
        k = t.kind
        if k == "decimal":
            # an int as it is: format(int, "f") goes through a double (2**64 - 1 -> "...551616.000000")
            return lambda v: None if v is None else str(v) if type(v) is int else format(v, "f")
        if k == "timestamp":

            def ts(v: Any) -> Any:
                if type(v) is datetime:
                    return (v.astimezone(UTC) if v.tzinfo else v).isoformat(" ")
                return v.isoformat(" ") if isinstance(v, datetime) else v

            return ts
        if k in ("date", "time"):
            return lambda v: v.isoformat() if v is not None and not isinstance(v, str) else v
        if k in ("json", "uuid"):
            return to_str
        return None

    def raw_check(self, s: ColType, d: ColType) -> Callable[[Sequence[Any]], bool] | None:
        return raw_check(s, d)

    def classify(self, exc: BaseException) -> str | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        msg = str(exc).lower()
        if "interrupted" in msg:
            return "interrupted"
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in msg or "busy" in msg or "disk i/o" in msg
        ):
            return "transient"
        return "terminal"

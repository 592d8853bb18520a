"""PostgreSQL through psycopg 3: named-cursor streaming reads, binary ``COPY`` writes, MVCC-atomic merges.

Values keep their exact types end to end: binary COPY sends ``numeric`` as Decimal digits, timestamps as
microseconds, ``bytea`` as bytes. ``json``/``jsonb`` travel as JSON text (the loaders return text so a
round trip never re-serialises), ``uuid`` as text. Types the engine does not model are read as their
text form (``::text``) and written through text COPY.
"""

from __future__ import annotations

import contextlib
import re
import uuid as _uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from airflow_sync.engine import trace
from airflow_sync.engine.dialects.base import Converter, Row, to_str
from airflow_sync.engine.dialects.postgres_merge import PostgresMerge
from airflow_sync.engine.dialects.values import to_aware, to_naive
from airflow_sync.engine.types import ColType, Column, TableSchema

_KNOWN = {
    "bool": ColType("bool"),
    "int2": ColType("int16"),
    "int4": ColType("int32"),
    "int8": ColType("int64"),
    "float4": ColType("float32"),
    "float8": ColType("float64"),
    "text": ColType("text"),
    "date": ColType("date"),
    "time": ColType("time"),
    "timestamp": ColType("timestamp"),
    "timestamptz": ColType("timestamp", tz=True),
    "bytea": ColType("binary"),
    "json": ColType("json"),
    "jsonb": ColType("json"),
    "uuid": ColType("uuid"),
}
_OIDS = {
    16: "bool", 20: "int8", 21: "int2", 23: "int4", 25: "text", 114: "json", 3802: "jsonb", 700: "float4",
    701: "float8", 1043: "varchar", 1042: "bpchar", 1082: "date", 1083: "time", 1114: "timestamp",
    1184: "timestamptz", 1700: "numeric", 17: "bytea", 2950: "uuid",
}  # fmt: skip
_LIBPQ = {
    "connect_timeout", "application_name", "options", "target_session_attrs", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "gssencmode", "channel_binding", "service", "passfile",
    "client_encoding", "krbsrvname", "requirepeer", "hostaddr",
}  # fmt: skip
# COPY text escapes that MySQL's LOAD DATA does not read (it takes "\\f" as "f"); "\\\\" is matched so an
# escaped backslash followed by "f" stays as it is
_PG_ONLY = re.compile(rb"\\[\\fv]")
_UNESCAPE = {b"\\\\": b"\\\\", b"\\f": b"\x0c", b"\\v": b"\x0b"}


def _portable(block: bytes) -> bytes:
    """A block of PostgreSQL COPY text with the escapes outside the common set (\\f, \\v) as raw bytes."""
    if b"\\f" not in block and b"\\v" not in block:
        return block
    return _PG_ONLY.sub(lambda m: _UNESCAPE[m.group(0)], block)


#: bytes gathered per write of the in-engine COPY pipe
_COPY_CHUNK = 1 << 20

_MOD = re.compile(r"\((\d+)(?:,(\d+))?\)")


def _coltype(typname: str, formatted: str) -> ColType | None:
    if typname in _KNOWN:
        return _KNOWN[typname]
    m = _MOD.search(formatted)
    if typname in ("varchar", "bpchar"):
        return ColType("string", length=int(m.group(1))) if m else ColType("text")
    if typname == "numeric":
        if m:
            return ColType("decimal", precision=int(m.group(1)), scale=int(m.group(2) or 0))
        return ColType("decimal")
    return None


class PostgresDialect(PostgresMerge):
    name = "postgresql"
    placeholder = "%s"
    # json and uuid are read as text (see module docstring) but binary COPY needs their wire form
    passthrough_kinds = frozenset({"json", "uuid"})

    def connect(self) -> Any:
        import psycopg
        from psycopg.types.string import TextLoader

        conn = psycopg.connect(autocommit=False, **self.connect_params())
        for name in ("json", "jsonb", "uuid"):
            conn.adapters.register_loader(name, TextLoader)
        # dates rendered as text (row_render) follow DateStyle, which a server or role may set otherwise
        conn.execute("SET DateStyle = ISO")
        conn.commit()
        return conn

    def connect_params(self) -> dict[str, Any]:
        """libpq keywords of this URL (only libpq's own: Airflow's URLs may carry hook-level extras)."""
        u = self.url
        params = {"host": u.host, "port": u.port, "user": u.username, "password": u.password,
                  "dbname": u.database}  # fmt: skip
        extra = {
            k: v for k, v in u.query.items() if isinstance(v, str) and (k in _LIBPQ or k.startswith("ssl"))
        }
        return {k: v for k, v in params.items() if v} | extra

    def set_timeout(self, conn: Any, seconds: int) -> None:
        self.execute(conn, f"SET statement_timeout = {int(seconds) * 1000}")

    def canceller(self, conn: Any) -> Callable[[], None]:
        return getattr(conn, "cancel_safe", conn.cancel)  # type: ignore[no-any-return]

    def default_schema(self, conn: Any) -> str | None:
        return self.scalar(conn, "SELECT current_schema()")  # type: ignore[no-any-return]

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        oid = self.scalar(conn, "SELECT to_regclass(%s)::oid", (self.qualify(schema, name),))
        if oid is None:
            return None
        cur = conn.cursor()
        try:
            cur.execute(
                "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
                "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (oid,),
            )
            cols = []
            for cname, typname, formatted, notnull in cur.fetchall():
                t = _coltype(typname, formatted)
                cols.append(Column(cname, t or ColType("text"), not notnull, typname if t else f"?{typname}"))
            cur.execute(
                "SELECT a.attname FROM pg_index i "
                "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.ord",
                (oid,),
            )
            pk = tuple(r[0] for r in cur.fetchall())
        finally:
            cur.close()
        return TableSchema(tuple(cols), pk)

    def describe(self, conn: Any, sql: str) -> list[tuple[str, ColType | None]]:
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT * FROM ({sql}) q LIMIT 0")
            out: list[tuple[str, ColType | None]] = []
            for d in cur.description:
                typname = _OIDS.get(d.type_code, "")
                if typname in ("varchar", "bpchar"):
                    size = d.internal_size if d.internal_size and d.internal_size > 0 else None
                    out.append((d.name, ColType("string", length=size) if size else ColType("text")))
                elif typname == "numeric":
                    p = d.precision
                    out.append((d.name, ColType("decimal", precision=p, scale=d.scale if p else None)))
                else:
                    out.append((d.name, _KNOWN.get(typname)))
            return out
        finally:
            cur.close()
            conn.rollback()

    def select_column(self, column: Column) -> str:
        if column.native.startswith("?"):
            return f"{self.quote_ident(column.name)}::text"
        return self.quote_ident(column.name)

    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        k = t.kind
        simple = {
            "bool": "boolean", "int16": "smallint", "int32": "integer", "int64": "bigint", "float32": "real",
            "float64": "double precision", "text": "text", "date": "date", "time": "time", "binary": "bytea",
            "json": "jsonb", "uuid": "uuid",
        }  # fmt: skip
        if k in simple:
            return simple[k]
        if k == "decimal":
            return f"numeric({t.precision},{t.scale or 0})" if t.precision else "numeric"
        if k == "string":
            return f"varchar({t.length})" if t.length else "text"
        if k == "timestamp":
            return "timestamptz" if t.tz else "timestamp"
        return "text"

    def literal(self, value: Any, t: ColType) -> str:
        if t.kind == "date" and isinstance(value, datetime):
            value = value.date()
        if isinstance(value, datetime):
            return (
                f"{self.quote_string(value.isoformat(' '))}::{'timestamptz' if value.tzinfo else 'timestamp'}"
            )
        if isinstance(value, date):
            return f"{self.quote_string(value.isoformat())}::date"
        return super().literal(value, t)

    def stream(self, conn: Any, sql: str, params: Sequence[Any], size: int) -> Iterator[list[Row]]:
        # a named (server-side) cursor keeps memory flat; itersize matches the batch
        cur = conn.cursor(name="airflow_sync_read", withhold=False)
        cur.itersize = max(size, 1)
        try:
            cur.execute(sql, tuple(params) or None)
            trace.statement(sql)
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    break
                yield rows
        finally:
            with contextlib.suppress(Exception):  # the connection may already be closed
                cur.close()

    def reader(self, t: ColType, native: str = "") -> Converter | None:
        if native.startswith("?"):
            return to_str
        return None

    def writer(self, t: ColType, native: str, use_gmt: bool) -> Converter | None:
        k = t.kind
        if k == "json":
            if native == "jsonb":
                # jsonb's binary COPY format is a version byte then the text: send it as bytes
                return lambda v: (
                    None if v is None else b"\x01" + (v if isinstance(v, str) else str(v)).encode()
                )
            return None
        if k == "uuid":
            return lambda v: None if v is None or isinstance(v, _uuid.UUID) else _uuid.UUID(str(v))
        if k == "timestamp" and t.tz:
            return lambda v: v if v is None or v.tzinfo is not None else to_aware(v, use_gmt)
        if k == "timestamp":
            # an aware value in a naive column: wall time in UTC (UseGmtDateTime) or the local zone
            return lambda v: v if v is None or v.tzinfo is None else to_naive(v, use_gmt)
        if k == "binary":
            return lambda v: v if v is None or isinstance(v, bytes) else bytes(v)
        return None

    def _copy_type(self, c: Column) -> str | None:
        if c.native == "jsonb":
            return "bytea"
        if c.native == "json":
            return "text"
        if c.native.startswith("?") or not c.native:
            return None
        return c.native

    def takes_text(self, d: ColType) -> bool:
        # through text COPY (load(text=True)); not aware timestamps: a naive text would take the
        # server's TimeZone where the row path takes UTC or the worker's zone
        return d.kind in ("date", "decimal", "bool", "json", "uuid") or (d.kind == "timestamp" and not d.tz)

    def load(
        self,
        conn: Any,
        table: str,
        columns: Sequence[Column],
        batches: Iterable[list[Row]],
        text: bool = False,
    ) -> int:
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        types = [self._copy_type(c) for c in columns]
        # binary COPY needs Python objects of each column's type; raw text goes through text COPY
        binary = not text and all(t is not None for t in types)
        n = 0
        with conn.cursor() as cur:
            fmt = " (FORMAT BINARY)" if binary else ""
            trace.statement(f"COPY {table} ({cols}) FROM STDIN{fmt}")
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN{fmt}") as cp:
                if binary:
                    cp.set_types(types)
                for batch in batches:
                    for row in batch:
                        cp.write_row(row)
                    n += len(batch)
        return n

    def stage_loaded(self, conn: Any, stage: str) -> None:
        # temporary tables are never auto-analysed; the merge joins need row estimates
        self.execute(conn, f"ANALYZE {stage}")

    def same_representation(self, src: Column, dst: Column) -> bool:
        # binary COPY output of a column is valid binary COPY input of a column of the very same type
        return src.type == dst.type and src.native == dst.native and bool(src.native) and src.native[0] != "?"

    def copy_query(
        self, src_conn: Any, sql: str, dst_conn: Any, table: str, columns: Sequence[Column], token: Any
    ) -> int | None:
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        trace.statement(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)")
        trace.statement(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)")
        with src_conn.cursor() as scur, dst_conn.cursor() as dcur:
            with (
                scur.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as out,
                dcur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as inp,
            ):
                # libpq hands COPY TO data over one row per call; sending each row on its own costs a
                # Python call and a libpq call per row, so rows are gathered into ~1 MB writes
                buf = bytearray()
                for block in out:
                    buf += block
                    if len(buf) >= _COPY_CHUNK:
                        inp.write(bytes(buf))
                        buf.clear()
                        token.check()
                if buf:
                    inp.write(bytes(buf))
            return int(dcur.rowcount)

    # --- text pipe (see engine/route.py) ------------------------------------------------------------
    def text_render(self, column: Column, naive_zone: str | None, dest: str = "") -> str | None:
        # COPY's text output does the escaping; only what the other engine reads differently is cast
        k = column.type.kind
        ref = "q." + self.quote_ident(column.name)
        if column.native.startswith("?") or k in ("float32", "time", "binary"):
            return None
        if k == "bool":
            return f"{ref}::int"
        if k == "timestamp" and column.type.tz:
            return None if naive_zone is None else f"({ref} AT TIME ZONE {self.quote_string(naive_zone)})"
        return ref

    def row_render(self, column: Column, dest: str) -> str | None:
        # what SQLite's row path binds (SQLiteDialect.writer): numbers and text as they are, decimals,
        # dates and timestamps as text, booleans as 0/1 -- rendered by the server, loaded by psycopg in C
        k = column.type.kind
        ref = "q." + self.quote_ident(column.name)
        if dest != "sqlite" or column.native.startswith("?") or k == "time":
            return None
        if k == "bool":
            return f"{ref}::int"
        if k in ("decimal", "date"):
            return f"{ref}::text"
        if k == "timestamp":
            if column.type.tz:
                return None  # the row path keeps the "+00:00" suffix
            # datetime.isoformat(" "): a fraction only when there is one, then always 6 digits
            return (
                f"CASE WHEN date_trunc('second', {ref}) = {ref} THEN to_char({ref}, 'YYYY-MM-DD HH24:MI:SS') "
                f"ELSE to_char({ref}, 'YYYY-MM-DD HH24:MI:SS.US') END"
            )
        return ref

    def text_stream(self, conn: Any, sql: str, exprs: Sequence[str], size: int) -> Iterator[bytes] | None:
        if conn.info.encoding != "utf-8":
            return None
        return self._text_blocks(conn, f"COPY (SELECT {', '.join(exprs)} FROM ({sql}) AS q) TO STDOUT", size)

    def _text_blocks(self, conn: Any, copy_sql: str, size: int) -> Iterator[bytes]:
        with conn.cursor() as cur:
            # the text forms the other engine parses: ISO dates (every session of connect()), shortest
            # exact floats
            cur.execute("SET LOCAL extra_float_digits = 1")
            with cur.copy(copy_sql) as cp:
                parts: list[bytes] = []
                for row in cp:  # one row per read
                    parts.append(row)
                    if len(parts) >= size:
                        yield _portable(b"".join(parts))
                        parts = []
                if parts:
                    yield _portable(b"".join(parts))

    def text_load_ready(self, conn: Any) -> bool:
        return bool(conn.info.encoding == "utf-8")

    def load_text(
        self, conn: Any, table: str, columns: Sequence[Column], blocks: Iterable[bytes], label: str
    ) -> int:
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        with conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                for block in blocks:
                    cp.write(block)
            return int(cur.rowcount)

    def classify(self, exc: BaseException) -> str | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        state = getattr(exc, "sqlstate", None) or ""
        if state == "57014":
            return "interrupted"
        if state[:2] in ("08", "53") or state in ("40001", "40P01", "55P03", "57P01", "57P02", "57P03"):
            return "transient"
        if not state and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return "transient"
        return "terminal"

    def error_text(self, exc: BaseException) -> str:
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag else None
        text = primary or super().error_text(exc)
        col = getattr(diag, "column_name", None) if diag else None
        return f"{text} (column '{col}')" if col else text

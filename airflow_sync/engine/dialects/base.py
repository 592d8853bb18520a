"""What every destination/source database must provide to the engine (design D13).

A :class:`Dialect` owns one database's differences: connecting with the raw DBAPI driver, quoting,
reflection into neutral :class:`~airflow_sync.engine.types.ColType` s, DDL, value conversion, the bulk load
path, the set-based merge statements, statement timeouts and cancellation. The SQL built here is portable
standard SQL; backends override what they can do faster.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import URL

from airflow_sync.engine import trace
from airflow_sync.engine.dialects.merge_sql import PortableMerge
from airflow_sync.engine.dialects.values import (  # re-exported: dialects import them from here
    COERCE,
    Converter,
    local_tz,
    same_family,
    to_bool,
    to_bytes,
    to_date,
    to_datetime,
    to_decimal,
    to_float,
    to_int,
    to_json_text,
    to_str,
    to_time,
)
from airflow_sync.engine.types import ColType, Column, TableSchema

__all__ = [
    "COERCE", "Converter", "Dialect", "Row", "local_tz", "same_family", "to_bool", "to_bytes", "to_date",
    "to_datetime", "to_decimal", "to_float", "to_int", "to_json_text", "to_str", "to_time",
]  # fmt: skip

Row = tuple[Any, ...]


class Dialect(PortableMerge):
    """Base class: portable SQL; subclasses implement connecting, reflection, DDL types and bulk loads."""

    name = "generic"
    #: DBAPI placeholder for one parameter
    placeholder = "?"
    #: DDL is transactional (PostgreSQL, SQLite); MySQL commits implicitly on DDL
    transactional_ddl = True
    #: kinds whose driver value must go through :meth:`writer` even between two databases of this dialect
    passthrough_kinds: frozenset[str] = frozenset()

    def __init__(self, url: URL) -> None:
        self.url = url

    # --- connections and transactions -------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def begin(self, conn: Any) -> None:
        """Start a transaction (drivers that begin implicitly need nothing)."""

    def commit(self, conn: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        # the connection may be gone; the server rolls back on disconnect
        with contextlib.suppress(Exception):
            conn.rollback()

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.close()

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns its row count (-1 when unknown)."""
        cur = conn.cursor()
        started = time.monotonic()
        try:
            cur.execute(sql, tuple(params)) if params else cur.execute(sql)
            count = int(cur.rowcount if cur.rowcount is not None else -1)
            trace.statement(sql, started=started, rows=count)
            return count
        finally:
            cur.close()

    def scalar(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = conn.cursor()
        started = time.monotonic()
        try:
            cur.execute(sql, tuple(params)) if params else cur.execute(sql)
            trace.statement(sql, started=started)
            row = cur.fetchone()
            return row[0] if row else None
        finally:
            cur.close()

    def set_timeout(self, conn: Any, seconds: int) -> None:
        """Limit every statement of this connection to ``seconds`` (0 = no limit)."""

    def canceller(self, conn: Any) -> Callable[[], None]:
        """A callable that interrupts the statement running on ``conn`` (called from another thread)."""
        return lambda: None

    # --- quoting (quote_ident: see PortableMerge) ------------------------------------------------------
    def quote_string(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def qualify(self, schema: str | None, name: str) -> str:
        return (self.quote_ident(schema) + "." if schema else "") + self.quote_ident(name)

    # --- reflection ---------------------------------------------------------------------------------
    def default_schema(self, conn: Any) -> str | None:
        return None

    def table_exists(self, conn: Any, schema: str | None, name: str) -> bool:
        return self.reflect(conn, schema, name) is not None

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        """Columns (neutral types) and primary key of a table, or None when it does not exist."""
        raise NotImplementedError

    def describe(self, conn: Any, sql: str) -> list[tuple[str, ColType | None]]:
        """Output column names and types of a SELECT (None where the driver cannot tell)."""
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT * FROM ({sql}) q WHERE 1=0")
            return [(d[0], None) for d in cur.description]
        finally:
            cur.close()

    # --- DDL ----------------------------------------------------------------------------------------
    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        raise NotImplementedError

    def create_table_sql(
        self, schema: str | None, name: str, columns: Sequence[Column], primary_key: Sequence[str]
    ) -> str:
        keys = set(primary_key)
        cols = [
            f"{self.quote_ident(c.name)} {self.type_sql(c.type, key=c.name in keys)}"
            + (" NOT NULL" if c.name in keys else "")
            for c in columns
        ]
        if primary_key:
            cols.append("PRIMARY KEY (" + ", ".join(self.quote_ident(k) for k in primary_key) + ")")
        return f"CREATE TABLE {self.qualify(schema, name)} (" + ", ".join(cols) + ")" + self.table_suffix()

    def table_suffix(self) -> str:
        return ""

    def create_schema(self, conn: Any, schema: str) -> None:
        p = self.placeholder
        self.create_racing(
            conn,
            f"CREATE SCHEMA IF NOT EXISTS {self.quote_ident(schema)}",
            lambda: (
                self.scalar(
                    conn, f"SELECT 1 FROM information_schema.schemata WHERE schema_name = {p}", (schema,)
                )
                is not None
            ),
        )

    def create_racing(self, conn: Any, ddl: str, exists: Callable[[], bool]) -> bool:
        """Run a CREATE that runs of other jobs may send at the same moment (a new destination).

        Only one can win: on PostgreSQL the others wait for it and then fail on the catalog's unique index,
        ``IF NOT EXISTS`` or not. A CREATE that fails while ``exists()`` now holds lost that race: the object
        is there, made by someone else. Where DDL is transactional it runs under a savepoint, so what the
        transaction did before it is kept; elsewhere (MySQL) DDL commits on its own and a failed CREATE undoes
        nothing.

        :returns: True when this CREATE made the object, False when another session's did
        """
        savepoint = self.transactional_ddl
        if savepoint:
            self.execute(conn, "SAVEPOINT airflow_sync_create")
        try:
            self.execute(conn, ddl)
        except Exception:
            if savepoint:
                self.execute(conn, "ROLLBACK TO SAVEPOINT airflow_sync_create")
            if not exists():
                raise
            made = False
        else:
            made = True
        if savepoint:
            self.execute(conn, "RELEASE SAVEPOINT airflow_sync_create")
        return made

    def add_column_sql(self, schema: str | None, table: str, column: Column) -> str:
        return (
            f"ALTER TABLE {self.qualify(schema, table)} ADD COLUMN "
            f"{self.quote_ident(column.name)} {self.type_sql(column.type)}"
        )

    def alter_type_sql(self, schema: str | None, table: str, column: Column) -> list[str]:
        return [
            f"ALTER TABLE {self.qualify(schema, table)} ALTER COLUMN "
            f"{self.quote_ident(column.name)} TYPE {self.type_sql(column.type)}"
        ]

    def drop_table_sql(self, schema: str | None, name: str) -> str:
        return f"DROP TABLE IF EXISTS {self.qualify(schema, name)}"

    def has_rows(self, conn: Any, table: str) -> bool:
        return bool(self.scalar(conn, f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {table}) THEN 1 ELSE 0 END"))

    def swap_tables(self, conn: Any, schema: str | None, live: str, new: str) -> None:
        """Atomically replace table ``live`` by table ``new`` (backends without transactional DDL)."""
        raise NotImplementedError

    # --- staging ------------------------------------------------------------------------------------
    def create_stage(
        self,
        conn: Any,
        schema: str | None,
        target: str,
        columns: Sequence[str],
        tag: str,
        keys: Sequence[str] = (),
    ) -> str:
        """Create an empty session-private table shaped like ``target``'s ``columns``; returns its name.

        ``keys`` are indexed where the backend's merge would otherwise scan the stage once per row.
        """
        stage = self.qualify(None, f"_as_stage_{tag}")
        cols = ", ".join(self.quote_ident(c) for c in columns)
        self.execute(
            conn,
            f"CREATE TEMPORARY TABLE {stage} AS SELECT {cols} FROM {self.qualify(schema, target)} WHERE 1=0",
        )
        return stage

    def drop_stage(self, conn: Any, stage: str) -> None:
        self.execute(conn, f"DROP TABLE IF EXISTS {stage}")

    def stage_loaded(self, conn: Any, stage: str) -> None:
        """Called once a stage holds its rows (e.g. to give the planner statistics)."""

    def clear_stage(self, conn: Any, stage: str) -> None:
        self.execute(conn, f"DELETE FROM {stage}")

    # --- reading ------------------------------------------------------------------------------------
    def stream(self, conn: Any, sql: str, params: Sequence[Any], size: int) -> Iterator[list[Row]]:
        """Yield the query's rows in lists of at most ``size`` (the driver must not buffer everything)."""
        cur = conn.cursor()
        try:
            started = time.monotonic()
            cur.execute(sql, tuple(params)) if params else cur.execute(sql)
            trace.statement(sql, started=started)
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    break
                yield rows
        finally:
            with contextlib.suppress(Exception):  # the connection may already be closed
                cur.close()

    def select_column(self, column: Column) -> str:
        """How to read a source column (e.g. a cast to text for types the engine does not model)."""
        return self.quote_ident(column.name)

    def literal(self, value: Any, t: ColType) -> str:
        """A watermark bound as an SQL literal for a column of type ``t``.

        Bounds are literals rather than parameters so that user text in the same query (which may contain
        ``%``) is never run through a driver's ``%s`` formatting.
        """
        if t.kind == "date" and isinstance(value, datetime):
            value = value.date()  # a date column compares with a date (SQLite compares the text)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, datetime):
            return self.quote_string(value.isoformat(" "))
        if isinstance(value, date):
            return self.quote_string(value.isoformat())
        return self.quote_string(str(value))

    def reader(self, t: ColType, native: str = "") -> Converter | None:
        """Converter from this driver's value for a column of type ``t`` to the engine's canonical value."""
        return None

    def writer(self, t: ColType, native: str, use_gmt: bool) -> Converter | None:
        """Converter from the canonical value to what this driver's bulk path needs for type ``t``."""
        return None

    def raw_check(self, s: ColType, d: ColType) -> Callable[[Sequence[Any]], bool] | None:
        """Source side of the convert stage's shortcut: a check of a whole fetched column of type ``s``
        that is True when its raw driver values are already the text (or number) a destination of type
        ``d`` parses into what :meth:`reader` and the destination's writer would give; None: no check."""
        return None

    def takes_text(self, d: ColType) -> bool:
        """Destination side of the shortcut: the bulk path parses the text of a value of type ``d`` as
        the database parses SQL text (see :meth:`raw_check`)."""
        return False

    # --- writing ------------------------------------------------------------------------------------
    def load(
        self,
        conn: Any,
        table: str,
        columns: Sequence[Column],
        batches: Iterable[list[Row]],
        text: bool = False,
    ) -> int:
        """Bulk-insert every batch into ``table`` (already qualified); returns rows written.

        :param text: some values are text the database must parse (:meth:`takes_text`)
        """
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        marks = ", ".join([self.placeholder] * len(columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        n = 0
        cur = conn.cursor()
        try:
            for batch in batches:
                cur.executemany(sql, batch)
                n += len(batch)
        finally:
            cur.close()
        return n

    def same_representation(self, src: Column, dst: Column) -> bool:
        """True when a value of ``src`` (a column of this same backend) can be copied into ``dst`` as is."""
        return False

    def attach(self, conn: Any, source: Dialect) -> str | None:
        """Make ``source``'s database readable from ``conn`` (SQLite ATTACH); returns the name prefix."""
        return None

    def copy_query(
        self, src_conn: Any, sql: str, dst_conn: Any, table: str, columns: Sequence[Column], token: Any
    ) -> int | None:
        """Copy the rows of ``sql`` (run on ``src_conn``) into ``table`` without per-row Python.

        Returns the row count, or None when this backend has no such path.
        """
        return None

    # --- text pipe: rows as COPY text lines between two engines (see engine/route.py) -------------
    def text_render(self, column: Column, naive_zone: str | None, dest: str = "") -> str | None:
        """SQL giving ``q.<column>`` as one field of the pipe's text format, or None when this backend
        cannot render its values exactly.

        :param naive_zone: render time-zone-aware timestamps as wall time in this zone (None: do not)
        :param dest: the destination dialect's name; ``"sqlite"`` stores the text itself, so values are
            rendered in the very text the row path would store (timestamps as Python's ``isoformat``)
        """
        return None

    def row_render(self, column: Column, dest: str) -> str | None:
        """SQL giving ``q.<column>`` already in the form the ``dest`` dialect's row path writes (e.g. a
        timestamp as SQLite's text), so the fetched value needs no conversion in Python; None when this
        backend cannot render it so."""
        return None

    def text_stream(self, conn: Any, sql: str, exprs: Sequence[str], size: int) -> Iterator[bytes] | None:
        """Blocks of text lines (each ending in a newline) of ``SELECT exprs FROM (sql) AS q``; None when
        this backend cannot stream them. ``size`` is a number of rows per block, as a hint."""
        return None

    def parallel_reads(self) -> bool:
        """True when each :meth:`text_stream` runs on a connection of its own, so that several can read at
        once (engine/split.py)."""
        return False

    def text_load_ready(self, conn: Any) -> bool:
        """True when :meth:`load_text` can run on ``conn``."""
        return False

    def load_text(
        self, conn: Any, table: str, columns: Sequence[Column], blocks: Iterable[bytes], label: str
    ) -> int:
        """Bulk-load text blocks into ``table`` (already qualified); returns rows loaded.

        :param label: how errors name the table
        """
        raise NotImplementedError

    # --- errors -------------------------------------------------------------------------------------
    def classify(self, exc: BaseException) -> str | None:
        """``"transient"``, ``"terminal"``, ``"cancelled"``, ``"timeout"`` or None (not a database error)."""
        return None

    def error_text(self, exc: BaseException) -> str:
        """The database's message for ``exc`` (callers redact it before showing it)."""
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

"""MySQL / MariaDB through PyMySQL: unbuffered (SSCursor) reads, multi-row INSERT batches, InnoDB merges.

Tables are created ``utf8mb4`` with the binary collation so 4-byte characters survive and keys that
differ only by case stay distinct. MySQL has no time-zone-aware type: aware timestamps are stored in UTC
in ``DATETIME(6)``. DDL commits implicitly, so ``DropTable`` builds a new table and swaps it in with one
atomic ``RENAME TABLE``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy.engine import URL

from airflow_sync.engine import trace
from airflow_sync.engine.dialects.base import (
    Converter,
    Dialect,
    Row,
    to_bool,
    to_json_text,
    to_str,
    to_time,
)
from airflow_sync.engine.dialects.mysql_infile import InfileConnection, load_local, warned_columns
from airflow_sync.engine.dialects.mysql_load import load_rows
from airflow_sync.engine.dialects.mysql_merge import MySQLMerge
from airflow_sync.engine.dialects.mysql_read import available as fast_reads_available
from airflow_sync.engine.dialects.mysql_read import (
    close_all,
    kill_queries,
    open_fast_stream,
    open_text_stream,
    pymysql_conversions,
    pymysql_text_stream,
    text_field,
)
from airflow_sync.engine.dialects.mysql_tls import tls_params
from airflow_sync.engine.dialects.mysql_types import describe_query, reflect_table
from airflow_sync.engine.dialects.values import to_naive
from airflow_sync.engine.types import ColType, Column, TableSchema
from airflow_sync.exceptions import TerminalReplicationError

#: read through mysql-connector-python's C extension when it is installed (tests turn it off)
FAST_READS = True
#: PyMySQL's decoders, zero dates as None (as the C extension reads them)
_CONVERSIONS = pymysql_conversions()


def _connector_errno(exc: BaseException) -> int | None:
    """The error number of a mysql-connector-python error (0 when it has none), None for other errors."""
    mod = type(exc).__module__ or ""
    if not (mod.startswith("mysql.connector") or mod.startswith("_mysql_connector")):
        return None
    return int(getattr(exc, "errno", 0) or 0)


class MySQLDialect(MySQLMerge):
    name = "mysql"
    placeholder = "%s"
    transactional_ddl = False
    mariadb = True

    def __init__(self, url: URL) -> None:
        super().__init__(url)
        #: connection ids of C-extension reads in flight (killed with the main connection's query)
        self._readers: dict[int, Any] = {}
        #: the source was attached (same server and credentials, see :meth:`attach`)
        self._same_server = False

    def _params(self) -> dict[str, Any]:
        u = self.url
        q = {k: v for k, v in u.query.items() if isinstance(v, str)}
        return {
            "host": u.host or "localhost",
            "port": u.port or 3306,
            "user": u.username or "root",
            "password": u.password or "",
            "database": u.database or None,
            "charset": q.get("charset", "utf8mb4"),
            **tls_params(q),
        }

    def connect_params(self) -> dict[str, Any]:
        """PyMySQL's ``connect`` keywords for this URL (TLS options included)."""
        return self._params()

    def connect(self) -> Any:
        # the capability flag for LOAD DATA LOCAL; the connection serves only its own loads (mysql_infile)
        conn = InfileConnection(**self._params(), autocommit=False, local_infile=True, conv=_CONVERSIONS)
        self.mariadb = "mariadb" in conn.get_server_info().lower()
        return conn

    def begin(self, conn: Any) -> None:
        conn.begin()

    def close(self, conn: Any) -> None:
        close_all(self._readers)
        super().close(conn)

    def set_timeout(self, conn: Any, seconds: int) -> None:
        if self.mariadb:
            self.execute(conn, f"SET SESSION max_statement_time = {int(seconds)}")
        else:
            self.execute(conn, f"SET SESSION max_execution_time = {int(seconds) * 1000}")

    def canceller(self, conn: Any) -> Callable[[], None]:
        thread_id = conn.thread_id()
        params = self._params()
        readers = self._readers

        def kill() -> None:
            # and the C-extension connections of reads in flight (see mysql_read)
            kill_queries(params, (thread_id, *list(readers)))

        return kill

    def quote_ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def quote_string(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"

    def default_schema(self, conn: Any) -> str | None:
        return self.scalar(conn, "SELECT DATABASE()")  # type: ignore[no-any-return]

    def reflect(self, conn: Any, schema: str | None, name: str) -> TableSchema | None:
        return reflect_table(conn, self.mariadb, schema, name)

    def describe(self, conn: Any, sql: str) -> list[tuple[str, ColType | None]]:
        return describe_query(conn, sql)

    def select_column(self, column: Column) -> str:
        if column.native.startswith("?"):
            return f"CAST({self.quote_ident(column.name)} AS CHAR)"
        return self.quote_ident(column.name)

    def type_sql(self, t: ColType, *, key: bool = False) -> str:
        k = t.kind
        simple = {
            "bool": "BOOLEAN", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT", "float32": "FLOAT",
            "float64": "DOUBLE", "date": "DATE", "time": "TIME(6)", "timestamp": "DATETIME(6)",
            "json": "JSON",
        }  # fmt: skip
        if k in simple:
            return simple[k]
        if k == "decimal":
            if t.precision:
                return f"DECIMAL({min(t.precision, 65)},{min(t.scale or 0, 30)})"
            return "DECIMAL(65,30)"
        if k in ("string", "text"):
            n = t.length if k == "string" else None
            if key:
                return f"VARCHAR({min(n or 255, 768)})"
            return f"VARCHAR({n})" if n and n <= 16383 else "LONGTEXT"
        if k == "binary":
            if key or (t.length and t.length <= 65535):
                return f"VARBINARY({min(t.length or 255, 3072)})"
            return "LONGBLOB"
        if k == "uuid":
            return "UUID" if self.mariadb else "CHAR(36)"
        return "LONGTEXT"

    def table_suffix(self) -> str:
        return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    def create_schema(self, conn: Any, schema: str) -> None:
        self.execute(
            conn,
            f"CREATE DATABASE IF NOT EXISTS {self.quote_ident(schema)} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        )

    def alter_type_sql(self, schema: str | None, table: str, column: Column) -> list[str]:
        return [
            f"ALTER TABLE {self.qualify(schema, table)} MODIFY COLUMN "
            f"{self.quote_ident(column.name)} {self.type_sql(column.type)}"
        ]

    def create_stage(
        self,
        conn: Any,
        schema: str | None,
        target: str,
        columns: Sequence[str],
        tag: str,
        keys: Sequence[str] = (),
    ) -> str:
        # the index is declared in the CREATE: a later ALTER/CREATE INDEX would commit implicitly
        stage = self.quote_ident(f"_as_stage_{tag}")
        cols = ", ".join(self.quote_ident(c) for c in columns)
        index = f"(KEY ({', '.join(map(self.quote_ident, keys))})) " if keys else ""
        self.execute(
            conn,
            f"CREATE TEMPORARY TABLE {stage} {index}AS SELECT {cols} "
            f"FROM {self.qualify(schema, target)} WHERE 1=0",
        )
        return stage

    def drop_stage(self, conn: Any, stage: str) -> None:
        # plain DROP TABLE commits implicitly in MySQL, even for a temporary table; TEMPORARY does not
        self.execute(conn, f"DROP TEMPORARY TABLE IF EXISTS {stage}")

    def swap_tables(self, conn: Any, schema: str | None, live: str, new: str) -> None:
        old = f"{live}__as_old"
        self.execute(conn, f"DROP TABLE IF EXISTS {self.qualify(schema, old)}")
        if self.reflect(conn, schema, live) is not None:
            self.execute(
                conn,
                f"RENAME TABLE {self.qualify(schema, live)} TO {self.qualify(schema, old)}, "
                f"{self.qualify(schema, new)} TO {self.qualify(schema, live)}",
            )
            self.execute(conn, f"DROP TABLE {self.qualify(schema, old)}")
        else:
            self.execute(conn, f"RENAME TABLE {self.qualify(schema, new)} TO {self.qualify(schema, live)}")
        conn.commit()

    def stream(self, conn: Any, sql: str, params: Sequence[Any], size: int) -> Iterator[list[Row]]:
        # the C extension of mysql-connector-python decodes rows several times faster than PyMySQL
        fast = open_fast_stream(self._params(), sql, params, size, self._readers) if self._fast() else None
        if fast is not None:
            try:
                yield from fast
            finally:
                fast.close()  # type: ignore[attr-defined]
            return
        import pymysql.cursors

        cur = conn.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql, tuple(params)) if params else cur.execute(sql)
            trace.statement(sql)
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    break
                yield list(rows)
        finally:
            with contextlib.suppress(Exception):  # the connection may already be closed
                cur.close()

    def _fast(self) -> bool:
        return FAST_READS and fast_reads_available()

    def reader(self, t: ColType, native: str = "") -> Converter | None:
        k = t.kind
        if native.startswith("?"):
            return to_str
        if k == "bool":
            return to_bool
        if k == "time":
            return to_time
        if k in ("json", "uuid"):
            return to_json_text if k == "json" else to_str
        return None

    def writer(self, t: ColType, native: str, use_gmt: bool) -> Converter | None:
        k = t.kind
        if k == "timestamp":
            # no time-zone type in MySQL: aware values are stored as wall time in UTC (UseGmtDateTime) or
            # in the local zone, like naive values
            return lambda v: to_naive(v, use_gmt)
        if k == "binary":
            return lambda v: v if v is None or isinstance(v, bytes) else bytes(v)
        if k in ("json", "uuid"):
            return to_str
        return None

    def takes_text(self, d: ColType) -> bool:
        # multi-row INSERT literals: a quoted string converts as MySQL converts text (mysql_literals)
        return d.kind in ("timestamp", "date", "decimal", "bool", "json", "uuid")

    def load(
        self,
        conn: Any,
        table: str,
        columns: Sequence[Column],
        batches: Iterable[list[Row]],
        text: bool = False,
    ) -> int:
        # Multi-row INSERTs rendered with one specialised literal function per column (PyMySQL's generic
        # per-value escaping was two thirds of the run time), executed while the next batch is rendered.
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        return load_rows(conn, table, cols, columns, batches)

    def same_representation(self, src: Column, dst: Column) -> bool:
        return src.type == dst.type and src.native == dst.native and not src.native.startswith("?")

    def attach(self, conn: Any, source: Dialect) -> str | None:
        # A source database on the same server, reached with the same credentials, is readable from the
        # destination connection: INSERT ... SELECT then copies without any row leaving the server.
        if not isinstance(source, MySQLDialect) or not source.url.database:
            return None
        mine, theirs = self._params(), source._params()
        if any(mine[k] != theirs[k] for k in ("host", "port", "user", "password")):
            return None
        log_bin, fmt = self._row(conn, "SELECT @@log_bin, @@binlog_format")
        if log_bin and str(fmt).upper() == "STATEMENT":
            return None  # READ COMMITTED writes cannot be logged as statements
        # INSERT ... SELECT reads the source without share-locking its rows (which would block writers to
        # the source for the whole copy) only under READ COMMITTED; set before any transaction begins
        self.execute(conn, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        self._same_server = True
        return self.quote_ident(source.url.database) + "."

    def _row(self, conn: Any, sql: str) -> tuple[Any, ...]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return tuple(cur.fetchone() or ())

    def copy_query(
        self, src_conn: Any, sql: str, dst_conn: Any, table: str, columns: Sequence[Column], token: Any
    ) -> int | None:
        if not self._same_server:
            return None
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        with dst_conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} ({cols}) {sql}")
            return int(cur.rowcount)

    # --- text pipe (see engine/route.py) ------------------------------------------------------------
    def text_render(self, column: Column, naive_zone: str | None, dest: str = "") -> str | None:
        if column.native.startswith("?"):
            return None
        return text_field(column.type.kind, "q." + self.quote_ident(column.name), iso=dest == "sqlite")

    def text_stream(self, conn: Any, sql: str, exprs: Sequence[str], size: int) -> Iterator[bytes] | None:
        if self._params()["charset"] != "utf8mb4":
            return None  # the pipe carries UTF-8 text
        query = f"SELECT {', '.join(exprs)} FROM ({sql}) AS q"
        if self._fast():
            return open_text_stream(self._params(), query, size, self._readers)
        return pymysql_text_stream(conn, query, size)

    def parallel_reads(self) -> bool:
        # the C extension's streams open their own connections (mysql_read); PyMySQL's use the run's
        return self._params()["charset"] == "utf8mb4" and self._fast()

    def text_load_ready(self, conn: Any) -> bool:
        # LOAD DATA LOCAL needs the server's consent (MySQL 8 defaults to OFF)
        return isinstance(conn, InfileConnection) and bool(self._local_infile_on(conn))

    def _local_infile_on(self, conn: Any) -> bool:
        return bool(self.scalar(conn, "SELECT @@local_infile"))

    def load_text(
        self, conn: Any, table: str, columns: Sequence[Column], blocks: Iterable[bytes], label: str
    ) -> int:
        # LOCAL turns data errors into warnings (rows skipped, values cut): any warning fails the load,
        # and the caller rolls the transaction back
        cols = ", ".join(self.quote_ident(c.name) for c in columns)
        n, warnings = load_local(conn, f"INTO TABLE {table} CHARACTER SET utf8mb4 ({cols})", blocks)
        if warnings:
            names, codes = warned_columns(conn, [c.name for c in columns])
            where = ", ".join(f"'{c}'" for c in names) if names else "(not named by the server)"
            raise TerminalReplicationError(
                f"{warnings} value(s) not accepted loading {label}: column {where}, MySQL warning "
                f"code(s) {sorted(set(codes))}; nothing was committed"
            )
        return n

    def has_rows(self, conn: Any, table: str) -> bool:
        return self.scalar(conn, f"SELECT 1 FROM {table} LIMIT 1") is not None

    def classify(self, exc: BaseException) -> str | None:
        import pymysql

        connector_code = _connector_errno(exc)
        if connector_code is None and not isinstance(exc, pymysql.err.Error):
            return None
        code = connector_code or (exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0)
        if code in (1317, 1969, 3024):
            return "interrupted"
        if code in (1205, 1213, 2003, 2006, 2013, 1040, 1053, 2055):
            return "transient"
        if isinstance(exc, pymysql.err.InterfaceError):
            return "transient"
        return "terminal"

    def error_text(self, exc: BaseException) -> str:
        if _connector_errno(exc) is not None:
            return f"{getattr(exc, 'msg', None) or exc} (error {getattr(exc, 'errno', None)})"
        if len(exc.args) >= 2 and isinstance(exc.args[1], str):
            return f"{exc.args[1]} (error {exc.args[0]})"
        return super().error_text(exc)

"""Into SQLite through Arrow and a scratch file: rows from PostgreSQL or MariaDB reach SQLite without a Python
object per value (docs/adr/0007). Optional: needs the ``arrow`` extra (pyarrow, the ADBC SQLite driver and,
for PostgreSQL, the ADBC PostgreSQL driver); without it the paths below it run (``engine/write.py``).

ADBC writes through its own connection, so it never writes the destination: it ingests the batches into a
scratch SQLite file next to the destination, then the engine's own connection attaches the file and copies
the rows with one ``INSERT ... SELECT`` inside the load's transaction (state row and commit guard
unchanged). Nothing reaches the destination before every batch is in the scratch: a batch the path cannot
take (:class:`NotExact`) leaves the destination untouched, and the caller loads the rows by the path below.

What the scratch holds is what the path below would bind, value for value, so the destination column's
affinity does the same conversions:

- from PostgreSQL, the server renders each column in SQLite's row-path form (``route.rendered_rows``) and
  ADBC reads the result by binary ``COPY``: integers, doubles, text and bytes, exactly as psycopg would
  hand them to ``executemany`` (any other Arrow type is :class:`NotExact`);
- from MariaDB, the text pipe's lines are parsed by Arrow's CSV reader, every field a string (``\\N``
  NULL), as ``sqlite_text.load_lines`` binds them; a column whose fields hold escape sequences in a block is
  unescaped in Python for that block, as ``load_lines`` does.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from airflow_sync.engine.dialects.sqlite_arrow import NotExact, import_order
from airflow_sync.engine.dialects.sqlite_text import unescape
from airflow_sync.engine.errors import redact
from airflow_sync.exceptions import ReplicationCancelled

if TYPE_CHECKING:
    from airflow_sync.engine.cancel import CancelToken

#: Arrow types ADBC's SQLite ingest binds as sqlite3 binds the Python value psycopg would build
_EXACT = frozenset({"int16", "int32", "int64", "double", "string", "large_string", "binary", "large_binary"})
#: scratch databases attached to a destination connection, detached when its transaction ends
_ATTACHED = "airflow_sync_scratch"
_NAMES = itertools.count()
#: bytes per Arrow batch read from PostgreSQL, the unit of cancellation and of the read-ahead. ADBC reads
#: faster than SQLite ingests, so the read-ahead is always full: about PG_AHEAD + 2 batches at the peak,
#: whatever the table's size (ADBC's default, 16 MB 4 ahead, reached ~100 MB only on large tables)
PG_BATCH_BYTES = 4 << 20
PG_AHEAD = 2


@functools.cache
def available(source: str) -> bool:
    """The drivers this path needs for a ``source`` dialect (``postgresql`` or ``mysql``) are installed."""
    import_order()
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
        import pyarrow.csv  # noqa: F401

        if source == "postgresql":
            import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return source in ("postgresql", "mysql")


def pg_batches(params: dict[str, Any], sql: str, token: CancelToken) -> Iterator[Any]:
    """The Arrow batches of ``sql`` read by ADBC's PostgreSQL driver (binary ``COPY`` into Arrow in C) on a
    connection of its own (libpq keywords ``params``), which ``token`` cancels while a batch is in flight."""
    import adbc_driver_postgresql.dbapi as adbc
    from psycopg.conninfo import make_conninfo

    conn = adbc.connect(make_conninfo(**params))
    try:
        cur = conn.cursor()
        handle = token.register(cur.adbc_cancel)
        try:
            cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(PG_BATCH_BYTES)})
            cur.execute("SET DateStyle = ISO")  # dates and timestamps as text: Python's isoformat
            cur.execute(sql)
            yield from cur.fetch_record_batch()
        finally:
            token.unregister(handle)
            cur.close()
    finally:
        conn.close()


def text_batches(blocks: Iterable[bytes], width: int) -> Iterator[Any]:
    """Arrow tables of the text pipe's line ``blocks``, one per block, every field a string."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as csv

    names = [f"c{i}" for i in range(width)]
    # no quoting, no escape character: fields hold no tab or newline (the pipe escapes them)
    parse = csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, ignore_empty_lines=False)
    convert = csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), null_values=["\\N"], strings_can_be_null=True
    )
    for block in blocks:
        read = csv.ReadOptions(column_names=names, use_threads=False, block_size=max(1 << 20, len(block) + 1))
        try:
            table = csv.read_csv(pa.py_buffer(block), read, parse, convert)
        except pa.ArrowException as exc:
            raise NotExact(f"Arrow's CSV reader refused a block: {type(exc).__name__}") from None
        cols = []
        for col in table.columns:
            if pc.any(pc.match_substring(col, "\\")).as_py():
                col = pa.array([None if v is None else unescape(v) for v in col.to_pylist()], pa.string())
            cols.append(col)
        yield pa.table(cols, names=names)


def ingest(
    conn: Any, dest: str, target: str, columns_sql: str, batches: Iterable[Any], each: Callable[[int], None]
) -> int:
    """Load Arrow ``batches`` (record batches or tables, columns in ``columns_sql`` order) into ``target``
    through a scratch file; returns rows loaded. Raises :class:`NotExact` (destination untouched) when a
    batch holds a type the path does not take or ADBC fails.

    :param dest: the destination file (the scratch goes into a temporary folder beside it)
    :param each: called with each batch's row count once it is in the scratch (cancellation, counts)
    """
    folder, beside = "", os.path.dirname(os.path.abspath(dest))
    try:
        try:
            folder = tempfile.mkdtemp(prefix=".airflow_sync_arrow-", dir=beside)
            path = os.path.join(folder, "scratch.db")
            n, width = _scratch(path, batches, each)
            alias = _attach(conn, path) if n else ""
        except (NotExact, ReplicationCancelled):
            raise
        except Exception as exc:  # the path below reads the rows again and reports its own errors
            # the message may quote a value (ADBC echoes the server's error and the query): redacted
            said = redact(str(exc), ())
            raise NotExact(f"the Arrow ingest stopped: {type(exc).__name__}: {said}") from None
        if not n:
            return 0
        names = ", ".join(f'"c{i}"' for i in range(width))
        cur = conn.cursor()
        try:
            cur.execute(f"INSERT INTO {target} ({columns_sql}) SELECT {names} FROM {alias}.t")
        finally:
            cur.close()
        return n
    finally:
        # an attached file stays readable until DETACH (release), unlinked or not
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _scratch(path: str, batches: Iterable[Any], each: Callable[[int], None]) -> tuple[int, int]:
    """ADBC writes ``batches`` into table ``t`` of the new SQLite file ``path``; (rows, columns)."""
    import adbc_driver_sqlite.dbapi as adbc

    n = width = 0
    sc = adbc.connect(path, autocommit=True)
    try:
        with sc.cursor() as cur:
            # a throwaway file: no journal, no fsync
            for stmt in ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF", "BEGIN"):
                cur.execute(stmt)
            for batch in batches:
                if batch.num_rows:
                    bad = [str(t) for t in batch.schema.types if str(t) not in _EXACT]
                    if bad:
                        raise NotExact(f"a column arrived as Arrow {bad[0]}")
                    width = batch.num_columns
                    batch = batch.rename_columns([f"c{i}" for i in range(width)])
                    cur.adbc_ingest("t", batch, mode="append" if n else "create")
                    n += batch.num_rows
                each(batch.num_rows)
            cur.execute("COMMIT")
    finally:
        sc.close()
    return n, width


def _attach(conn: Any, path: str) -> str:
    """Attach ``path`` to the destination connection under a fresh name (SQLite refuses to DETACH a file
    read in a transaction before that transaction ends: see :func:`release`)."""
    alias = f"as_arrow_{next(_NAMES)}"
    setattr(conn, _ATTACHED, [*(getattr(conn, _ATTACHED, None) or []), alias])  # first: it may refuse
    conn.cursor().execute(f"ATTACH DATABASE ? AS {alias}", (path,))
    return alias


def release(conn: Any) -> None:
    """Detach the scratch files of a destination connection whose transaction ended (COMMIT, ROLLBACK)."""
    left = []
    for alias in getattr(conn, _ATTACHED, None) or []:
        try:
            conn.execute(f"DETACH DATABASE {alias}")
        except Exception:
            left.append(alias)  # still in a transaction: the next end detaches it
    with contextlib.suppress(AttributeError):
        setattr(conn, _ATTACHED, left)

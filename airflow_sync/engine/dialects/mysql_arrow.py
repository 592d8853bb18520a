"""MySQL / MariaDB rows straight into Arrow batches, through connectorx (docs/adr/0008). Optional: needs the
``arrow`` extra; without it (or for a connection it cannot open as the engine would) the text pipe's lines
are parsed instead (``sqlite_ingest.text_batches``).

connectorx reads a prepared statement's binary rows in Rust into Arrow columns: no Python object per value
or per row, and no line for the server to render. Each column is read in the form the row path would bind
into SQLite (:func:`arrow_field`): integers and doubles as the server's own values, text as it is, dates
and timestamps as the server's text put in Python's isoformat, every other kind as the text pipe renders
it. The read runs in a process of its own (``mysql_arrow_child.py``, which says why) and hands the batches
over in Arrow IPC segment files. A column arriving as another Arrow type, or any failure of the reader, is
:class:`NotExact`: the caller reads the rows again by the path below, the destination untouched.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_sync.engine.dialects.mysql_read import kill_queries
from airflow_sync.engine.dialects.sqlite_arrow import NotExact

if TYPE_CHECKING:
    from airflow_sync.engine.cancel import CancelToken

#: rows per Arrow batch: the unit of cancellation and of the read-ahead (~2.5 MB of the bench's
#: 9 columns; larger batches raise the peak RSS, not the speed)
BATCH_ROWS = 16_384
#: batches per segment file of the reader process (~10 MB of the bench's rows)
SEGMENT_BATCHES = 4
#: the reader process, run by path (see its docstring)
_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mysql_arrow_child.py")


@functools.cache
def available() -> bool:
    """connectorx is installed (the ``arrow`` extra); not imported here: the reader process imports it."""
    return importlib.util.find_spec("connectorx") is not None


def arrow_field(kind: str, native: str, ref: str) -> tuple[str, str] | None:
    """SQL reading column ``ref`` (kind ``kind``, source type ``native``) in the form the row path binds into
    SQLite, and that form ("int", "double" or "string"); None for the kinds the text pipe does not take."""
    if kind in ("float32", "time", "binary"):
        return None
    if kind in ("int16", "int32", "int64"):
        return ref, "int"  # unsigned ones arrive as Arrow's unsigned types, cast to int64 (exact: < 2**32)
    if kind == "bool":
        return f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} THEN 1 ELSE 0 END", "int"
    if kind == "float64":
        return ref, "double"
    if kind in ("string", "text"):
        return ref, "string"
    if kind == "date":
        return f"CAST({ref} AS CHAR)", "date"
    if kind == "timestamp":
        # the server's own text, with the column's fraction digits: the cheapest rendering (0.6 s per 1M rows
        # of three such columns where DATE_FORMAT takes 1.5 s); put in Python's isoformat in Arrow
        return f"CAST({ref} AS CHAR)", "timestamp"
    # decimals, JSON (MySQL's binary JSON), UUID, ...: the server's text, as the text pipe sends it
    return f"CAST({ref} AS CHAR)", "string"


def url(params: dict[str, Any]) -> str | None:
    """The connectorx URL of the engine's connection ``params`` (``MySQLDialect.connect_params``), or None
    when connectorx would not connect as the engine does: TLS options, another charset than utf8mb4."""
    if params.get("charset", "utf8mb4") != "utf8mb4" or any(k.startswith("ssl") for k in params):
        return None
    user, password = quote(str(params["user"]), safe=""), quote(str(params["password"] or ""), safe="")
    database = quote(str(params["database"] or ""), safe="")
    # TCP to the configured host, as the engine connects (the driver would switch to the server's socket,
    # where the account may be another one)
    return f"mysql://{user}:{password}@{params['host']}:{int(params['port'])}/{database}?prefer_socket=false"


def batches(
    params: dict[str, Any], sql: str, forms: Sequence[str], token: CancelToken, beside: str
) -> Iterator[Any]:
    """The Arrow record batches of ``sql`` (columns in ``forms``' forms, in the row path's values), read by
    connectorx in a process of its own (``mysql_arrow_child.py``) on a connection of its own, through
    segment files in a temporary folder in the folder ``beside`` (the destination's: a segment is deleted
    once its batches are handed on, so the folder holds what the reader is ahead). ``token`` cancels by
    killing the process and the statement (found by a marker in its text). Raises :class:`NotExact` when the
    reader refuses a column or fails."""
    address = url(params)
    if address is None:
        raise NotExact("connectorx cannot open this connection as the engine does")
    try:
        folder = tempfile.mkdtemp(prefix=".airflow_sync_arrow-spool-", dir=beside)
    except OSError as exc:
        raise NotExact(f"no folder for the reader's segments: {type(exc).__name__}") from None
    marker = f"airflow_sync_read_{uuid.uuid4().hex}"
    request = {
        "url": address, "sql": f"SELECT /* {marker} */ * FROM ({sql}) AS q",
        "batch_rows": BATCH_ROWS, "segment_batches": SEGMENT_BATCHES, "spool": folder,
    }  # fmt: skip
    try:
        yield from _spooled(params, request, marker, forms, token)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _spooled(
    params: dict[str, Any], request: dict[str, Any], marker: str, forms: Sequence[str], token: CancelToken
) -> Iterator[Any]:
    """The batches of the reader process run on ``request`` (see :func:`batches`)."""
    import pyarrow as pa

    folder, want, pipe = request["spool"], _schema(list(forms)), subprocess.PIPE
    # its stderr into a file: a pipe read only once it exits would fill (64 KB) and stop both processes
    with open(os.path.join(folder, "reader-stderr.txt"), "w+b") as err:
        env = {**os.environ, "RUST_BACKTRACE": "0"}
        try:
            proc = subprocess.Popen([sys.executable, _CHILD], stdin=pipe, stdout=pipe, stderr=err, env=env)
        except OSError as exc:
            raise NotExact(f"the reader process: {type(exc).__name__}") from None

        def stop() -> None:
            proc.kill()
            with contextlib.suppress(Exception):  # a statement still computing would not see its client gone
                kill_queries(params, marker=marker)

        handle = token.register(stop)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(request).encode() + b"\n")  # the password: never in the command line
            proc.stdin.close()
            for line in proc.stdout:  # one finished segment per line
                path = os.path.join(folder, os.path.basename(line.decode().strip()))
                with pa.OSFile(path) as f:
                    for batch in pa.ipc.open_stream(f):
                        yield _checked(batch, forms, want)
                os.unlink(path)
            if proc.wait() != 0:
                err.seek(0)
                raise NotExact(_said(err.read(), proc.returncode))
        except (pa.ArrowException, OSError) as exc:
            raise NotExact(f"the reader's segments: {type(exc).__name__}") from None
        finally:
            token.unregister(handle)
            if proc.poll() is None:  # closed early (a refused batch, a cancel): the statement is killed too
                stop()
                proc.wait()
            with contextlib.suppress(Exception):
                proc.stdout.close()  # type: ignore[union-attr]


#: the Arrow types each form may arrive as (unsigned integers are below 2**32: the C types the
#: reflected kinds allow; a BIGINT UNSIGNED is a decimal, read as text)
_TYPES = {
    "int": frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}),
    "double": frozenset({"double"}),
    "string": frozenset({"string", "large_string"}),
    "date": frozenset({"string", "large_string"}),
    "timestamp": frozenset({"string", "large_string"}),
}
#: a date text of a zero date ('0000-00-00') or one with a zero part ('2024-00-10'): NULL on the row path
_ZERO = r"^(0000|.{5}00|.{8}00)"


def _schema(forms: Sequence[str]) -> Any:
    import pyarrow as pa

    kinds = {"int": pa.int64(), "double": pa.float64()}
    return pa.schema([(f"c{i}", kinds.get(f, pa.string())) for i, f in enumerate(forms)])


def _checked(batch: Any, forms: Sequence[str], want: Any) -> Any:
    """``batch`` in ``want``'s types, dates and timestamps in the row path's text; :class:`NotExact` when a
    column arrived in another form."""
    import pyarrow as pa

    if batch.num_columns != len(forms):
        raise NotExact(f"connectorx returned {batch.num_columns} columns, not {len(forms)}")
    cols = []
    for i, (col, form) in enumerate(zip(batch.columns, forms, strict=True)):
        if str(col.type) not in _TYPES[form] and col.null_count < len(col):
            raise NotExact(f"column {i + 1} arrived as Arrow {col.type}, not {form}")
        col = col if col.type == want.field(i).type else col.cast(want.field(i).type)
        cols.append(_as_row_path(col, form) if form in ("date", "timestamp") else col)
    return pa.RecordBatch.from_arrays(cols, schema=want)


def _as_row_path(col: Any, form: str) -> Any:
    """The server's text of dates or timestamps (``form``) as the row path stores them in SQLite: Python's
    ``isoformat`` (six fraction digits, none when they are all zero), NULL for zero dates (the C extension
    reads None)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    zero = pc.match_substring_regex(col, _ZERO)
    if form == "timestamp":
        # 'YYYY-MM-DD hh:mm:ss' and the column's 0-6 fraction digits
        col = pc.if_else(pc.greater(pc.utf8_length(col), 19), pc.utf8_rpad(col, 26, "0"), col)
        col = pc.if_else(pc.ends_with(col, ".000000"), pc.utf8_slice_codeunits(col, 0, 19), col)
    return pc.if_else(zero, pa.scalar(None, pa.string()), col)


def _said(stderr: bytes, status: int) -> str:
    """Why the reader process failed: its own one-line reason (it never writes a value), or its status."""
    lines = stderr.decode(errors="replace").splitlines()
    mine = [ln.removeprefix("airflow_sync: ") for ln in lines if ln.startswith("airflow_sync: ")]
    return mine[-1] if mine else f"the connectorx reader exited with status {status}"

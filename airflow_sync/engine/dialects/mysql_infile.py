"""``LOAD DATA LOCAL INFILE`` fed from memory, with the local-file request locked to our own statement.

With ``LOCAL``, the server answers the statement by asking the client for the named file. The MySQL
protocol lets a server send that request in answer to *any* query, naming *any* file, so a stock client
with ``local_infile`` enabled may be made to upload e.g. ``/etc/passwd``. :class:`InfileConnection` sets
the capability flag (the server refuses ``LOCAL`` without it) but never opens a file: it answers a request
only while :func:`load_local` is running, only for the random name of that one statement, and streams
the statement's data from an iterator. Any other request is refused (an empty upload) and raises.

Relies on PyMySQL's ``MySQLResult._read_load_local_packet`` / ``Connection._read_query_result`` (stable
since PyMySQL 0.7).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pymysql
from pymysql import err
from pymysql.connections import MySQLResult
from pymysql.protocol import LoadLocalPacketWrapper

from airflow_sync.engine.dialects.mysql_tls import preferred_context

#: data packet size; far below any server's max_allowed_packet (1 KiB minimum is for the query only)
PACKET = 64 * 1024
#: the client error code MySQL's own library uses for a refused local-file request
CR_LOAD_DATA_LOCAL_INFILE_REJECTED = 2068


class _InfileResult(MySQLResult):  # type: ignore[misc]
    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn: InfileConnection = self.connection
        requested = LoadLocalPacketWrapper(first_packet).filename
        expected, data = conn._infile_name, conn._infile_data
        conn._infile_name, conn._infile_data = None, None  # one request per statement
        if expected is None or data is None or requested != expected or not conn._local_infile:
            conn.write_packet(b"")  # an empty upload keeps the protocol in step
            conn._read_packet()
            raise err.OperationalError(
                CR_LOAD_DATA_LOCAL_INFILE_REJECTED,
                "the server asked for a local file this client did not offer; refused",
            )
        failure: BaseException | None = None
        try:
            for chunk in data:
                conn.write_packet(chunk)
        except BaseException as exc:  # source error or cancellation: end the upload, then re-raise
            failure = exc
        conn.write_packet(b"")
        try:
            ok = conn._read_packet()
        except Exception:
            if failure is not None:
                raise failure from None
            raise
        if failure is not None:
            raise failure
        self._read_ok_packet(ok)


class InfileConnection(pymysql.connections.Connection):  # type: ignore[misc]
    """A PyMySQL connection that serves ``LOAD DATA LOCAL`` only for :func:`load_local` (module docs).

    Connect with ``local_infile=True`` (the capability flag); ``_local_infile`` is reset at once and is
    True only while a load is armed.
    """

    _infile_name: bytes | None = None
    _infile_data: Iterable[bytes] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local_infile = False

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        # no TLS options: PyMySQL's "preferred" TLS, with a context built once per process (mysql_tls)
        if isinstance(sslp, dict) and not sslp:
            return preferred_context()
        return super()._create_ssl_ctx(sslp)

    def _read_query_result(self, unbuffered: bool = False) -> int:
        # PyMySQL's own method with our result class
        self._result = None
        result = _InfileResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return int(result.affected_rows or 0)


def packets(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """``blocks`` regrouped into upload packets of :data:`PACKET` bytes (the last one shorter)."""
    buf = bytearray()
    for block in blocks:
        buf += block
        while len(buf) >= PACKET:
            yield bytes(buf[:PACKET])
            del buf[:PACKET]
    if buf:
        yield bytes(buf)


def load_local(conn: InfileConnection, into_sql: str, data: Iterable[bytes]) -> tuple[int, int]:
    """Run ``LOAD DATA LOCAL INFILE '<random name>' <into_sql>`` uploading ``data``.

    :returns: (rows loaded, warning count)
    """
    name = f"airflow_sync-{uuid.uuid4().hex}"
    conn._infile_name, conn._infile_data = name.encode(), packets(data)
    conn._local_infile = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"LOAD DATA LOCAL INFILE '{name}' {into_sql}")
            return int(cur.rowcount), int(cur.warning_count or 0)
    finally:
        conn._infile_name, conn._infile_data = None, None
        conn._local_infile = False


_COLUMN = re.compile(r"column (?:`[^`]*`\.)*[`']([^`']+)[`']", re.IGNORECASE)


def warned_columns(conn: Any, known: Sequence[str]) -> tuple[list[str], list[int]]:
    """Columns named by the last statement's warnings (only names in ``known``) and the warning codes.

    Warning texts quote values; only names checked against ``known`` and the codes leave this function.
    """
    with conn.cursor() as cur:
        cur.execute("SHOW WARNINGS LIMIT 20")
        rows = cur.fetchall()
    cols: list[str] = []
    codes: list[int] = []
    for _level, code, message in rows:
        codes.append(int(code))
        m = _COLUMN.search(str(message))
        if m and m.group(1) in known and m.group(1) not in cols:
            cols.append(m.group(1))
    return cols, codes

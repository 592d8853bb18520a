"""Fast MySQL / MariaDB reads through ``mysql-connector-python``'s C extension (when installed).

PyMySQL decodes rows in pure Python (~50k rows/s for a mixed 9-column table); the C extension decodes
them several times faster into the same Python types. Each read opens its own unbuffered connection.
Result columns whose decoding differs between the drivers (SET → a Python set, BIT, GEOMETRY) make
:func:`open_fast_stream` return None, and the caller reads through PyMySQL as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_sync.engine.dialects.mysql_tls import connector_tls

Row = tuple[Any, ...]

# FieldType codes whose values both drivers decode to the same Python type
_SAME_DECODING = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 245, 246, 252, 253, 254}
_SET_FLAG = 2048

# literals of the text pipe, spelt in hex so that no sql_mode (NO_BACKSLASH_ESCAPES) changes them
_NULL = "_utf8mb4 X'5C4E'"  # backslash N
_ESCAPES = (
    ("_utf8mb4 X'5C'", "_utf8mb4 X'5C5C'"),  # backslash first
    ("_utf8mb4 X'09'", "_utf8mb4 X'5C74'"),
    ("_utf8mb4 X'0A'", "_utf8mb4 X'5C6E'"),
    ("_utf8mb4 X'0D'", "_utf8mb4 X'5C72'"),
)


def available() -> bool:
    """True when mysql-connector-python and its C extension can be imported."""
    try:
        import mysql.connector
    except ImportError:
        return False
    return bool(getattr(mysql.connector, "HAVE_CEXT", False))


def pymysql_conversions() -> dict[Any, Any]:
    """PyMySQL's ``conv`` decoding dates and timestamps as the C extension does: a zero date
    ('0000-00-00') or one with a zero part ('2024-00-10') is None, where PyMySQL keeps the text, which no
    date column of another engine takes (and the paths above store NULL)."""
    from pymysql.constants import FIELD_TYPE
    from pymysql.converters import conversions, convert_date, convert_datetime

    def date_or_none(convert: Any) -> Any:
        def decode(text: Any) -> Any:
            value = convert(text)
            return None if isinstance(value, (str, bytes)) else value

        return decode

    dates = {FIELD_TYPE.DATE: convert_date, FIELD_TYPE.DATETIME: convert_datetime}
    dates[FIELD_TYPE.TIMESTAMP] = convert_datetime
    return {**conversions, **{t: date_or_none(f) for t, f in dates.items()}}


def open_fast_stream(
    params: dict[str, Any], sql: str, qparams: Sequence[Any], size: int, readers: dict[int, Any]
) -> Iterator[list[Row]] | None:
    """Run ``sql`` on a new C-extension connection; None when its result needs PyMySQL's decoding.

    :param params: PyMySQL-style connection parameters (host, port, user, password, database, charset)
    :param readers: the open connections of reads in flight by connection id (added here, removed when
        done) so a canceller can ``KILL QUERY`` them and closing the source closes them too
    """
    conn = _connect(params)
    cid = int(conn.connection_id or 0)
    readers[cid] = conn
    try:
        cur = conn.cursor()
        cur.execute(sql, tuple(qparams)) if qparams else cur.execute(sql)
        desc = cur.description or []
        if any(d[1] not in _SAME_DECODING or (d[7] or 0) & _SET_FLAG for d in desc):
            readers.pop(cid, None)
            drop(conn)  # the unread result is not drained
            return None
    except BaseException:
        readers.pop(cid, None)
        with contextlib.suppress(Exception):
            drop(conn)
        raise
    return _rows(conn, cur, size, readers, cid)


def open_text_stream(params: dict[str, Any], sql: str, size: int, readers: dict[int, Any]) -> Iterator[bytes]:
    """Blocks of COPY text lines of ``sql``, whose items are already text fields (never NULL).

    The rows are fetched undecoded (``raw=True``): each row's fields are joined by tabs without creating
    a Python object per value. Same connection handling as :func:`open_fast_stream`.
    """
    conn = _connect(params)
    cid = int(conn.connection_id or 0)
    readers[cid] = conn
    try:
        cur = conn.cursor(raw=True)
        cur.execute(sql)
    except BaseException:
        readers.pop(cid, None)
        with contextlib.suppress(Exception):
            drop(conn)
        raise
    return _lines(_rows(conn, cur, size, readers, cid))


def _lines(batches: Iterator[list[Row]]) -> Iterator[bytes]:
    tab = b"\t".join
    try:
        for rows in batches:
            yield b"\n".join(map(tab, rows)) + b"\n"
    finally:
        batches.close()  # type: ignore[attr-defined]


def _connect(params: dict[str, Any]) -> Any:
    import mysql.connector

    charset = params.get("charset") or "utf8mb4"
    tls = connector_tls(params)
    conn = mysql.connector.connect(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        database=params["database"],
        charset=charset,
        # connector 9's default utf8mb4 collation (utf8mb4_0900_ai_ci) does not exist in MariaDB
        collation=f"{charset}_general_ci" if charset.startswith("utf8") else None,
        use_pure=False,
        # no open transaction (and no metadata lock) outlives the statement
        autocommit=True,
        **tls,
    )
    if tls:
        # the C extension connects in plain text when the server offers no TLS, CA or not (PyMySQL and
        # the pure-Python connector refuse): refuse here too
        cur = conn.cursor()
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row: Any = cur.fetchone()
        cur.close()
        if not row or not row[1]:
            conn.close()
            raise mysql.connector.errors.InterfaceError(
                msg="SSL connection error: TLS options are set but the server did not use TLS", errno=2026
            )
    return conn


def _rows(conn: Any, cur: Any, size: int, readers: dict[int, Any], cid: int) -> Iterator[list[Row]]:
    done = False
    try:
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                done = True
                break
            yield rows
    finally:
        readers.pop(cid, None)
        with contextlib.suppress(Exception):
            if done:
                cur.close()
                conn.close()
            else:
                drop(conn)  # closed early (sample, cancel, error): do not drain the rest


def drop(conn: Any) -> None:
    """Close a connection at once, an unread result not drained (``close()`` reads it to the end first).
    mysql-connector 9.7's C-extension connection has no ``shutdown()`` (it raises NotImplementedError):
    its C client is closed instead."""
    cmysql = getattr(conn, "_cmysql", None)
    if cmysql is not None:
        cmysql.close()
    else:
        conn.shutdown()


def close_all(readers: dict[int, Any]) -> None:
    """Drop the connections of reads still open (a stream its caller never closed)."""
    for cid in list(readers):
        conn = readers.pop(cid, None)
        with contextlib.suppress(Exception):
            drop(conn)


_BY_MARKER = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()"


def kill_queries(params: dict[str, Any], ids: Iterable[int] = (), marker: str | None = None) -> None:
    """``KILL QUERY`` the statements of connections ``ids``, and those whose text holds ``marker``, from a
    PyMySQL connection of its own (a cancel, from another thread); each kill is best effort (the statement
    may have ended)."""
    import pymysql

    conn = pymysql.connect(**params, autocommit=True, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            found: list[int] = []
            if marker is not None:
                cur.execute(_BY_MARKER, (f"%{marker}%",))
                found = [int(tid) for (tid,) in cur.fetchall()]
            for tid in (*ids, *found):
                with contextlib.suppress(Exception):
                    cur.execute(f"KILL QUERY {int(tid)}")
    finally:
        conn.close()


def text_field(kind: str, ref: str, iso: bool = False) -> str | None:
    """SQL rendering column ``ref`` of kind ``kind`` as a field of the text pipe (``engine/route.py``),
    never NULL; None for kinds whose text form is not exact elsewhere (FLOAT, TIME, binary).

    :param iso: timestamps as Python's ``isoformat(" ")`` (a fraction only when there is one), the text
        the row path stores in SQLite
    """
    if kind in ("float32", "time", "binary"):
        return None
    if kind == "bool":
        return f"CASE WHEN {ref} IS NULL THEN {_NULL} WHEN {ref} THEN '1' ELSE '0' END"
    if kind in ("string", "text", "json"):
        for raw, esc in _ESCAPES:
            ref = f"REPLACE({ref}, {raw}, {esc})"
        return f"IFNULL({ref}, {_NULL})"
    if kind in ("date", "timestamp"):
        # zero dates ('0000-00-00', '2024-00-10') are read as NULL, as the C extension reads them
        ref = f"IF(YEAR({ref}) * MONTH({ref}) * DAYOFMONTH({ref}) = 0, NULL, {ref})"
        if iso and kind == "timestamp":
            whole = f"DATE_FORMAT({ref}, '%Y-%m-%d %H:%i:%s')"
            frac = f"DATE_FORMAT({ref}, '%Y-%m-%d %H:%i:%s.%f')"
            return f"IFNULL(IF(MICROSECOND({ref}) = 0, {whole}, {frac}), {_NULL})"
    # the cast first: IFNULL of e.g. a UUID and a string is a UUID (and backslash-N is not one)
    return f"IFNULL(CAST({ref} AS CHAR), {_NULL})"


def pymysql_text_stream(conn: Any, sql: str, size: int) -> Iterator[bytes]:
    """:func:`open_text_stream` through PyMySQL on ``conn`` (no C extension): decoded, then re-encoded."""
    import pymysql.cursors

    cur = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cur.execute(sql)
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                break
            yield ("\n".join(map("\t".join, rows)) + "\n").encode()
    finally:
        with contextlib.suppress(Exception):  # the connection may already be closed
            cur.close()

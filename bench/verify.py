"""Result verification: row count and a per-column checksum, computed the same way on every database.

Both sides are streamed in primary-key order and every value is normalised to its meaning before hashing
(a numeric is compared at scale 2, a double bit-exactly, a timestamp to the microsecond), because the three
engines return the same value as different Python types (``Decimal`` vs ``float`` in SQLite, text
timestamps in SQLite, ``0/1`` vs ``bool``). Where a representation is *not* the same value it is kept
distinct: a boolean stored as the text ``'True'`` or a truncated string fails the check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bench.data import COLUMNS
from bench.endpoints import Endpoint

_CENT = Decimal("0.01")
_BATCH = 20_000
_NONE = type(None)
_BOOL_AS_INT = {True: 1, False: 0}

# Canonical value per column: int, Decimal at scale 2, float, str, 0/1, naive datetime, date. A value that
# cannot be read as its column's type becomes the string "bad:..." and so never matches the source.


def _int(v: Any) -> Any:
    return int(v) if type(v) is int else f"bad:{v!r}"


def _numeric(v: Any) -> Any:
    try:
        return Decimal(str(v)).quantize(_CENT)  # str(): a SQLite REAL's shortest repr is its decimal value
    except ArithmeticError:
        return f"bad:{v!r}"


def _double(v: Any) -> Any:
    return float(v) if isinstance(v, int | float | Decimal) and not isinstance(v, bool) else f"bad:{v!r}"


def _text(v: Any) -> Any:
    return v if isinstance(v, str) else f"bad:{v!r}"


def _bool(v: Any) -> Any:
    # SQLite/MariaDB have no boolean type: 0/1 is the value; the *text* 'True' is not.
    if isinstance(v, bool | int) and v in (0, 1):
        return int(v)
    return f"bad:{v!r}"


def _timestamp(v: Any) -> Any:
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)  # SQLite keeps timestamps as ISO-8601 text
        except ValueError:
            return f"bad:{v!r}"
    if isinstance(v, datetime):
        if v.tzinfo is not None:  # a timestamptz destination: the run treats naive values as UTC
            v = v.astimezone(UTC).replace(tzinfo=None)
        return v
    return f"bad:{v!r}"


def _date(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            return f"bad:{v!r}"
    if isinstance(v, datetime):
        return v.date() if v.time() == datetime.min.time() else f"bad:{v!r}"
    return v if isinstance(v, date) else f"bad:{v!r}"


_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "id": _int,
    "qty": _int,
    "amount": _numeric,
    "ratio": _double,
    "label": _text,
    "flag": _bool,
    "created_at": _timestamp,
    "day": _date,
    "updated_at": _timestamp,
}


def _canonical(name: str, col: tuple[Any, ...]) -> Any:
    """The column's values in canonical form; C-speed when the driver already returned that form."""
    types = set(map(type, col))
    types.discard(_NONE)
    if name in ("id", "qty") and types <= {int}:
        return col
    if name == "ratio" and types <= {float}:
        return col
    if name == "label" and types <= {str}:
        return col
    if name == "day" and types <= {date}:
        return col
    if name == "amount" and types <= {Decimal}:
        return [None if v is None else v.quantize(_CENT) for v in col]
    if name == "flag" and types <= {bool, int} and set(col) <= {0, 1, None}:
        return col if bool not in types else list(map(_BOOL_AS_INT.get, col))
    if name.endswith("_at") and types <= {datetime}:
        sample = next((v for v in col if v is not None), None)
        if sample is None or sample.tzinfo is None:
            return col
    norm = _NORMALISE[name]
    return [None if v is None else norm(v) for v in col]


@dataclass
class Checksum:
    """Row count and one digest per column (so a mismatch names the columns that differ)."""

    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)

    def differences(self, other: Checksum) -> list[str]:
        """Human-readable differences from ``other`` (the expected source checksum); empty when equal."""
        out: list[str] = []
        if self.rows != other.rows:
            out.append(f"row count {self.rows} != source {other.rows}")
        bad = [c for c in COLUMNS if self.columns.get(c) != other.columns.get(c)]
        if bad:
            out.append("values differ in column(s) " + ", ".join(bad))
        return out


def _connect(ep: Endpoint) -> Any:
    """PyMySQL parses rows in Python (~5x slower than the rest of the checksum): read MariaDB with
    mysql-connector-python's C extension when it is installed (the GenericTransfer peer needs it anyway)."""
    if ep.kind == "mariadb":
        try:
            import mysql.connector

            if mysql.connector.HAVE_CEXT:
                from bench.endpoints import MY_HOST, MY_PORT, MY_USER

                return mysql.connector.connect(
                    host=MY_HOST, port=MY_PORT, user=MY_USER, database=ep.database, charset="utf8mb4"
                )
        except ImportError:
            pass
    return ep.connect()


def _cursor(ep: Endpoint, conn: Any) -> Any:
    if ep.kind == "postgres":
        return conn.cursor(name="bench_verify")  # server-side: constant memory
    if ep.kind == "mariadb":
        if type(conn).__module__.startswith("mysql.connector"):
            return conn.cursor(buffered=False)
        import pymysql.cursors

        return conn.cursor(pymysql.cursors.SSCursor)
    return conn.cursor()


def _exact_batches(cur: Any, size: int) -> Iterator[list[Any]]:
    """Batches of exactly ``size`` rows (the last may be short), whatever the driver's fetchmany returns:
    a batch is hashed as one unit, so both sides must cut the stream at the same rows."""
    buf: list[Any] = []
    while chunk := cur.fetchmany(size):
        buf.extend(chunk)
        while len(buf) >= size:
            yield buf[:size]
            del buf[:size]
    if buf:
        yield buf


def checksum(ep: Endpoint, table: str, max_id: int | None = None) -> Checksum:
    """Stream ``table`` in key order and hash every column's normalised values.

    :param max_id: only rows with ``id <= max_id`` (the capped peer runs), None = all rows
    """
    where = f" WHERE id <= {int(max_id)}" if max_id is not None else ""
    sql = f"SELECT {', '.join(COLUMNS)} FROM {table}{where} ORDER BY id"
    hashers = [hashlib.blake2b(digest_size=16) for _ in COLUMNS]
    rows = 0
    conn = _connect(ep)
    try:
        cur = _cursor(ep, conn)
        cur.execute(sql)
        for batch in _exact_batches(cur, _BATCH):
            rows += len(batch)
            for i, col in enumerate(zip(*batch, strict=True)):
                hashers[i].update(repr(list(_canonical(COLUMNS[i], col))).encode())
        cur.close()
        conn.rollback()
    finally:
        conn.close()
    return Checksum(rows, {c: h.hexdigest() for c, h in zip(COLUMNS, hashers, strict=True)})


def table_exists(ep: Endpoint, table: str) -> bool:
    conn = ep.connect()
    try:
        cur = conn.cursor()
        if ep.kind == "sqlite":
            cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        elif ep.kind == "postgres":
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
            return bool(cur.fetchone()[0])
        else:
            cur.execute("SHOW TABLES LIKE %s", (table,))
        return cur.fetchone() is not None
    finally:
        conn.close()


def verify(ep: Endpoint, table: str, expected: Checksum, max_id: int | None = None) -> list[str]:
    """Problems with the destination ``table`` compared with the source checksum (empty = correct)."""
    if not table_exists(ep, table):
        return [f"destination table {table} does not exist"]
    try:
        got = checksum(ep, table, max_id)
    except Exception as exc:  # a table of the wrong shape is a wrong result, not a bench crash
        return [f"could not read destination: {type(exc).__name__}: {exc}"]
    return got.differences(expected)

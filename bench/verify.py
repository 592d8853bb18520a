"""Result verification: row count and a per-column checksum, computed the same way on every database.

Both sides are streamed in primary-key order and every value is normalised to its meaning before hashing
(a numeric is compared at scale 2, a double bit-exactly, a timestamp to the microsecond), because the three
engines return the same value as different Python types (``Decimal`` vs ``float`` in SQLite, text
timestamps in SQLite, ``0/1`` vs ``bool``). Where a representation is *not* the same value it is kept
distinct: a boolean stored as the text ``'True'`` or a truncated string fails the check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bench.data import COLUMNS
from bench.endpoints import Endpoint

_CENT = Decimal("0.01")
_BATCH = 20_000


def _int(v: Any) -> Any:
    return None if v is None else int(v) if isinstance(v, int) else f"bad:{v!r}"


def _numeric(v: Any) -> Any:
    if v is None:
        return None
    try:
        return str(Decimal(str(v)).quantize(_CENT))
    except ArithmeticError:
        return f"bad:{v!r}"


def _double(v: Any) -> Any:
    if v is None:
        return None
    return float(v).hex() if isinstance(v, int | float | Decimal) else f"bad:{v!r}"


def _text(v: Any) -> Any:
    return v


def _bool(v: Any) -> Any:
    # SQLite/MariaDB have no boolean type: 0/1 is the value; the *text* 'True' is not.
    if v is None:
        return None
    if isinstance(v, bool | int) and int(v) in (0, 1):
        return int(v)
    return f"bad:{v!r}"


def _timestamp(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)  # SQLite keeps timestamps as ISO-8601 text
        except ValueError:
            return f"bad:{v!r}"
    if isinstance(v, datetime):
        if v.tzinfo is not None:  # a timestamptz destination: the run treats naive values as UTC
            v = v.astimezone(UTC).replace(tzinfo=None)
        return v.isoformat(" ", "microseconds")
    return f"bad:{v!r}"


def _date(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = date.fromisoformat(v)
        except ValueError:
            return f"bad:{v!r}"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else f"bad:{v!r}"
    return v.isoformat() if isinstance(v, date) else f"bad:{v!r}"


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


def _cursor(ep: Endpoint, conn: Any) -> Any:
    if ep.kind == "postgres":
        return conn.cursor(name="bench_verify")  # server-side: constant memory
    if ep.kind == "mariadb":
        import pymysql.cursors

        return conn.cursor(pymysql.cursors.SSCursor)
    return conn.cursor()


def checksum(ep: Endpoint, table: str, max_id: int | None = None) -> Checksum:
    """Stream ``table`` in key order and hash every column's normalised values.

    :param max_id: only rows with ``id <= max_id`` (the capped peer runs), None = all rows
    """
    where = f" WHERE id <= {int(max_id)}" if max_id is not None else ""
    sql = f"SELECT {', '.join(COLUMNS)} FROM {table}{where} ORDER BY id"
    hashers = [hashlib.blake2b(digest_size=16) for _ in COLUMNS]
    norms = [_NORMALISE[c] for c in COLUMNS]
    rows = 0
    conn = ep.connect()
    try:
        cur = _cursor(ep, conn)
        cur.execute(sql)
        while batch := cur.fetchmany(_BATCH):
            rows += len(batch)
            for i, col in enumerate(zip(*batch, strict=True)):
                norm = norms[i]
                # the separator makes the digest independent of batch boundaries
                hashers[i].update("".join(f"{norm(v)!r}\x1f" for v in col).encode())
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

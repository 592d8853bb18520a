"""MySQL / MariaDB incremental merge: one ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`` from the stage.

``UPDATE target JOIN stage`` and the anti-join ``INSERT`` let the optimizer drive from the target (the
temporary stage has no statistics), which scans the whole target for a handful of changed rows: seconds on
a million-row table. The upsert probes the target's key once per stage row instead.

``ON DUPLICATE KEY UPDATE`` fires on a conflict with *any* unique index, so it is used only when the key is
the target's one and only unique index; otherwise the caller keeps the two-statement merge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from airflow_sync.engine.dialects.base import Dialect

_PART = re.compile(r"`((?:[^`]|``)*)`")
_INFO = re.compile(r"(Records|Duplicates|Warnings): (\d+)")


def split_qualified(name: str) -> tuple[str | None, str]:
    """``(schema, table)`` of a name built by :meth:`Dialect.qualify` (backtick-quoted parts)."""
    parts = [p.replace("``", "`") for p in _PART.findall(name)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def key_is_only_unique_index(d: Dialect, conn: Any, target: str, keys: Sequence[str]) -> bool:
    """True when ``target``'s unique indexes are exactly one, on exactly the columns ``keys``."""
    schema, table = split_qualified(target)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
            "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND NON_UNIQUE = 0",
            (schema, table),
        )
        indexes: dict[str, set[str]] = {}
        for index, column in cur.fetchall():
            indexes.setdefault(index, set()).add(column)
    return list(indexes.values()) == [set(keys)]


def statement_info(conn: Any) -> dict[str, int]:
    """The counts of the last statement's info text (``Records: 3  Duplicates: 1  Warnings: 0``)."""
    result = getattr(conn, "_result", None)
    raw = getattr(result, "message", None) or b""
    text = raw.decode("ascii", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    return {k.lower(): int(v) for k, v in _INFO.findall(text)}


def upsert_from_stage(
    d: Dialect, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
) -> tuple[int, int, int] | None:
    """Insert new and update changed stage rows; ``(inserted, updated, rows read)``, or None when not
    applicable.

    :param stage: a table, or a parenthesised SELECT of the same columns (the source on the same server)

    The counts come from the statement itself: its affected rows (1 per inserted row, 2 per updated row,
    0 per unchanged one) and its info text's ``Duplicates`` (the updated rows), so no extra pass over the
    target counts the keys it already has. A client with ``CLIENT_FOUND_ROWS`` (never the engine's own
    connections) counts unchanged rows as affected too, which makes them indistinguishable from inserted
    ones: no upsert then.
    """
    vals = [c for c in columns if c not in keys]
    if not keys or not vals or not isinstance(conn, pymysql.connections.Connection):
        return None  # the statement info is read the PyMySQL way
    if conn.client_flag & CLIENT.FOUND_ROWS:
        return None
    if not key_is_only_unique_index(d, conn, target, keys):
        return None
    q = d.quote_ident
    cols = ", ".join(q(c) for c in columns)
    scols = ", ".join(f"s.{q(c)}" for c in columns)
    sets = ", ".join(f"{target}.{q(c)} = s.{q(c)}" for c in vals)
    with conn.cursor() as cur:
        affected = int(
            cur.execute(
                f"INSERT INTO {target} ({cols}) SELECT {scols} FROM {stage} AS s "
                f"ON DUPLICATE KEY UPDATE {sets}"
            )
        )
    info = statement_info(conn)
    if "duplicates" not in info:
        raise RuntimeError("the server sent no row counts for the merge")  # never seen: MySQL always does
    dup = info["duplicates"]
    return max(0, affected - 2 * dup), dup, info.get("records", 0)


class MySQLMerge(Dialect):
    """The set-based merge statements of MySQL / MariaDB (multi-table UPDATE/DELETE, ``<=>``)."""

    def _null_safe_changed(self, a: str, b: str, cols: Sequence[str]) -> str:
        q = self.quote_ident
        return "NOT (" + " AND ".join(f"{a}.{q(c)} <=> {b}.{q(c)}" for c in cols) + ")"

    def upsert_from_stage(
        self, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int] | None:
        done = upsert_from_stage(self, conn, target, stage, columns, keys)
        return None if done is None else done[:2]

    def upsert_query(
        self, conn: Any, target: str, sql: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int, int] | None:
        # the source is attached (same server): its rows go into the target in one statement, no stage
        if not getattr(self, "_same_server", False):
            return None
        return upsert_from_stage(self, conn, target, f"({sql})", columns, keys)

    def update_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str | None:
        vals = [c for c in columns if c not in keys]
        if not vals:
            return None
        q = self.quote_ident
        sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in vals)
        return (
            f"UPDATE {target} AS t JOIN {stage} AS s ON {self._key_match('t', 's', keys)} SET {sets} "
            f"WHERE {self._null_safe_changed('t', 's', vals)}"
        )

    def insert_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str:
        q = self.quote_ident
        cols = ", ".join(q(c) for c in columns)
        scols = ", ".join("s." + q(c) for c in columns)
        if not keys:
            return f"INSERT INTO {target} ({cols}) SELECT {scols} FROM {stage} AS s"
        return (
            f"INSERT INTO {target} ({cols}) SELECT {scols} FROM {stage} AS s LEFT JOIN {target} AS t "
            f"ON {self._key_match('t', 's', keys)} WHERE t.{q(keys[0])} IS NULL"
        )

    def delete_missing_sql(self, target: str, stage: str, keys: Sequence[str]) -> str:
        return (
            f"DELETE t FROM {target} AS t LEFT JOIN {stage} AS s ON {self._key_match('t', 's', keys)} "
            f"WHERE s.{self.quote_ident(keys[0])} IS NULL"
        )

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
from typing import TYPE_CHECKING, Any

from pymysql.constants import CLIENT

if TYPE_CHECKING:
    from airflow_sync.engine.dialects.mysql import MySQLDialect

_PART = re.compile(r"`((?:[^`]|``)*)`")


def split_qualified(name: str) -> tuple[str | None, str]:
    """``(schema, table)`` of a name built by :meth:`Dialect.qualify` (backtick-quoted parts)."""
    parts = [p.replace("``", "`") for p in _PART.findall(name)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def key_is_only_unique_index(d: MySQLDialect, conn: Any, target: str, keys: Sequence[str]) -> bool:
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


def upsert_from_stage(
    d: MySQLDialect, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
) -> tuple[int, int] | None:
    """Insert new and update changed stage rows; ``(inserted, updated)``, or None when not applicable."""
    vals = [c for c in columns if c not in keys]
    if not keys or not vals or not key_is_only_unique_index(d, conn, target, keys):
        return None
    q = d.quote_ident
    cols = ", ".join(q(c) for c in columns)
    scols = ", ".join(f"s.{q(c)}" for c in columns)
    match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in keys)
    staged = int(d.scalar(conn, f"SELECT COUNT(*) FROM {stage}"))
    # STRAIGHT_JOIN: drive from the (small) stage and probe the target's key
    existing = int(
        d.scalar(conn, f"SELECT COUNT(*) FROM {stage} AS s STRAIGHT_JOIN {target} AS t ON {match}")
    )
    sets = ", ".join(f"{target}.{q(c)} = s.{q(c)}" for c in vals)
    affected = d.execute(
        conn, f"INSERT INTO {target} ({cols}) SELECT {scols} FROM {stage} AS s ON DUPLICATE KEY UPDATE {sets}"
    )
    inserted = staged - existing
    # affected rows: 1 per inserted row, 2 per updated row, 0 per unchanged one (1 with CLIENT_FOUND_ROWS)
    if getattr(conn, "client_flag", 0) & CLIENT.FOUND_ROWS:
        updated = affected - inserted - existing
    else:
        updated = (affected - inserted) // 2
    return inserted, max(0, updated)

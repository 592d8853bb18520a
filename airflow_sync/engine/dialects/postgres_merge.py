"""PostgreSQL's set-based merge statements: ``UPDATE ... FROM`` with a row-wise change test, and
``INSERT ... ON CONFLICT`` for incremental windows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_sync.engine.dialects.base import Dialect


class PostgresMerge(Dialect):
    """Merge SQL from a stage into a target (see :class:`~airflow_sync.engine.dialects.base.Dialect`)."""

    def update_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str | None:
        vals = [c for c in columns if c not in keys]
        if not vals:
            return None
        q = self.quote_ident
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in vals)
        tv = ", ".join(f"t.{q(c)}" for c in vals)
        sv = ", ".join(f"s.{q(c)}" for c in vals)
        return (
            f"UPDATE {target} AS t SET {sets} FROM {stage} AS s WHERE {self._key_match('t', 's', keys)} "
            f"AND ROW({tv}) IS DISTINCT FROM ROW({sv})"
        )

    def upsert_from_stage(
        self, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int] | None:
        # ON CONFLICT probes the key index once per stage row, where the UPDATE ... FROM and the anti-join
        # INSERT hash-join the whole target (seconds on a large table for a handful of changed rows).
        # It needs a unique index on exactly the key columns.
        vals = [c for c in columns if c not in keys]
        if not keys or not vals or not self._unique_on(conn, target, keys):
            return None
        q = self.quote_ident
        cols = ", ".join(q(c) for c in columns)
        sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in vals)
        tv = ", ".join(f"t.{q(c)}" for c in vals)
        ev = ", ".join(f"EXCLUDED.{q(c)}" for c in vals)
        # xmax is 0 on a freshly inserted row version and set on an updated one
        row = self.scalar(
            conn,
            f"WITH u AS (INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {sets} "
            f"WHERE ROW({tv}) IS DISTINCT FROM ROW({ev}) RETURNING (t.xmax = 0) AS ins) "
            "SELECT ARRAY[count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins)] FROM u",
        )
        return int(row[0]), int(row[1])

    def _unique_on(self, conn: Any, target: str, keys: Sequence[str]) -> bool:
        """True when ``target`` has a unique, non-partial index on exactly the columns ``keys``."""
        return bool(
            self.scalar(
                conn,
                "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass(%s) "
                "AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = %s "
                'AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C") '
                "FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = %s)",
                (target, len(keys), sorted(keys)),
            )
        )

    def delete_missing_sql(self, target: str, stage: str, keys: Sequence[str]) -> str:
        return (
            f"DELETE FROM {target} AS t WHERE NOT EXISTS "
            f"(SELECT 1 FROM {stage} s WHERE {self._key_match('s', 't', keys)})"
        )

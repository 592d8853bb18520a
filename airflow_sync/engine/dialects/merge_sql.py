"""The set-based merge statements of a stage into a target, in portable SQL (correlated UPDATE, NOT EXISTS);
dialects override them with faster forms (UPDATE ... FROM, ON CONFLICT, ON DUPLICATE KEY UPDATE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PortableMerge:
    """Base of :class:`~airflow_sync.engine.dialects.base.Dialect`: quoting and the merge SQL."""

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _key_match(self, a: str, b: str, keys: Sequence[str]) -> str:
        return " AND ".join(f"{a}.{self.quote_ident(k)} = {b}.{self.quote_ident(k)}" for k in keys)

    def distinct(self, a: str, b: str) -> str:
        """SQL true when ``a`` and ``b`` differ, treating NULLs as equal."""
        return f"({a} IS DISTINCT FROM {b})"

    def _changed(self, a: str, b: str, cols: Sequence[str]) -> str:
        if not cols:
            return "1=0"
        return (
            "("
            + " OR ".join(
                self.distinct(f"{a}.{self.quote_ident(c)}", f"{b}.{self.quote_ident(c)}") for c in cols
            )
            + ")"
        )

    def update_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str | None:
        """UPDATE target rows whose key is in stage and whose values differ; None when nothing to update."""
        vals = [c for c in columns if c not in keys]
        if not vals:
            return None
        sets = ", ".join(
            f"{self.quote_ident(c)} = (SELECT s.{self.quote_ident(c)} FROM {stage} s "
            f"WHERE {self._key_match('s', target, keys)})"
            for c in vals
        )
        return (
            f"UPDATE {target} SET {sets} WHERE EXISTS (SELECT 1 FROM {stage} s WHERE "
            f"{self._key_match('s', target, keys)} AND {self._changed('s', target, vals)})"
        )

    def insert_from_stage_sql(
        self, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> str:
        """INSERT stage rows whose key is not in target yet (all stage rows when there is no key)."""
        cols = ", ".join(self.quote_ident(c) for c in columns)
        scols = ", ".join("s." + self.quote_ident(c) for c in columns)
        sql = f"INSERT INTO {target} ({cols}) SELECT {scols} FROM {stage} s"
        if keys:
            sql += f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {self._key_match('t', 's', keys)})"
        return sql

    def upsert_from_stage(
        self, conn: Any, target: str, stage: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int] | None:
        """Update changed and insert new stage rows in one statement whose cost follows the stage's size;
        returns ``(inserted, updated)``, or None when the backend or table cannot (then the caller runs
        :meth:`update_from_stage_sql` and :meth:`insert_from_stage_sql`)."""
        return None

    def delete_missing_sql(self, target: str, stage: str, keys: Sequence[str]) -> str:
        """DELETE target rows whose key is not in stage."""
        match = self._key_match("s", target, keys)
        return f"DELETE FROM {target} WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"

    def upsert_query(
        self, conn: Any, target: str, sql: str, columns: Sequence[str], keys: Sequence[str]
    ) -> tuple[int, int, int] | None:
        """Like :meth:`upsert_from_stage` with the rows of ``sql``, a SELECT the destination connection
        runs itself (the source attached to it): ``(inserted, updated, rows read)``; None when the backend
        cannot."""
        return None

"""Destination DDL: schema, table with mapped types and key, AlterSchema (add + widen, never drop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_sync.engine.dialects.base import Dialect, same_family
from airflow_sync.engine.types import Column, TableSchema, widens
from airflow_sync.exceptions import TerminalReplicationError


@dataclass
class DestinationTable:
    """The destination as the load will see it.

    :param columns: destination columns matching the source output columns, in source order
    :param primary_key: the key used for merges (destination's own key if it has one)
    """

    schema: str | None
    name: str
    columns: list[Column]
    primary_key: tuple[str, ...]
    created: bool = False
    added: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)


def ensure_table(
    d: Dialect,
    conn: Any,
    schema: str | None,
    name: str,
    source_columns: Sequence[Column],
    primary_key: Sequence[str],
    *,
    alter_schema: bool,
    log: Callable[[str], None] = lambda _m: None,
) -> DestinationTable:
    """Create the table when missing; otherwise reconcile it with the source columns.

    With ``alter_schema`` missing columns are added and narrower types widened; a destination column that
    the source no longer has is left in place. Without it, missing columns or incompatible types raise a
    :class:`TerminalReplicationError` naming them (longer strings are handled per value by
    AutoTruncateStrings instead).
    """
    if schema:
        d.create_schema(conn, schema)
    existing = d.reflect(conn, schema, name)
    if existing is None:
        create = d.create_table_sql(schema, name, source_columns, primary_key)
        if d.create_racing(conn, create, lambda: d.reflect(conn, schema, name) is not None):
            created = d.reflect(conn, schema, name)
            assert created is not None
            cols = [created.column(c.name) or c for c in source_columns]
            return DestinationTable(schema, name, cols, tuple(primary_key), created=True)
        # another job's run created it a moment ago and may be loading it: an existing table, not an empty one
        existing = d.reflect(conn, schema, name)
        assert existing is not None
    return _reconcile(d, conn, schema, name, existing, source_columns, primary_key, alter_schema, log)


def _reconcile(
    d: Dialect,
    conn: Any,
    schema: str | None,
    name: str,
    existing: TableSchema,
    source_columns: Sequence[Column],
    primary_key: Sequence[str],
    alter_schema: bool,
    log: Callable[[str], None],
) -> DestinationTable:
    missing = [c for c in source_columns if existing.column(c.name) is None]
    widen: list[Column] = []
    longer: list[Column] = []  # longer strings: without AlterSchema, AutoTruncateStrings decides per value
    for c in source_columns:
        dc = existing.column(c.name)
        if dc is None:
            continue
        w = widens(dc.type, c.type) if same_family(dc.type, c.type) or dc.type.kind == c.type.kind else None
        if w is None:
            continue
        (longer if dc.type.kind == "string" else widen).append(Column(dc.name, w, dc.nullable))
    if alter_schema:
        widen += longer
    else:
        # values that do not fit a narrower type fail at load time with the database's error
        for c in widen:
            log(f"Column {c.name!r} of {name!r} is narrower than the source ({c.type}); AlterSchema is off")
        widen = []
    if not alter_schema and missing:
        raise TerminalReplicationError(
            f"Destination table '{name}' does not match the source: missing column(s) "
            + ", ".join(repr(c.name) for c in missing)
            + " (AlterSchema is off)"
        )
    added = []
    for c in missing:
        d.execute(conn, d.add_column_sql(schema, name, c))
        added.append(c.name)
        log(f"AlterSchema: added column {c.name!r} ({c.type}) to {name!r}")
    widened = []
    for c in widen:
        for stmt in d.alter_type_sql(schema, name, c):
            d.execute(conn, stmt)
        widened.append(c.name)
        log(f"AlterSchema: widened column {c.name!r} of {name!r} to {c.type}")
    if added or widened:
        refreshed = d.reflect(conn, schema, name)
        assert refreshed is not None
        existing = refreshed
    cols = [existing.column(c.name) or c for c in source_columns]
    # backends that cannot change a declared type (SQLite) store any value: treat the column as widened
    wider = {c.name: c.type for c in widen}
    cols = [
        replace(c, type=wider[c.name]) if c.name in wider and widens(c.type, wider[c.name]) else c
        for c in cols
    ]
    pk = existing.primary_key or tuple(primary_key)
    # the merge key is named as the source output names, matched case-insensitively to the destination
    pk = tuple((existing.column(k) or Column(k, cols[0].type)).name for k in pk)
    return DestinationTable(schema, name, cols, pk, added=added, widened=widened)

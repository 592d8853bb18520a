"""Resolve what one query reads: output columns and types, primary key, check column, and the SELECT text.

Every identifier is quoted by the source dialect and the user's expressions and WHERE are rendered from
their parsed tokens (never pasted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_sync.engine.dialects.base import Dialect
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.types import ColType, Column, TableSchema, parse_sql_type
from airflow_sync.exceptions import TerminalReplicationError

#: normalised names (lower case, without ``_``/spaces) that make a column an automatic check column
AUTO_CHECK_NAMES = ("updatedat", "modified", "lastmodified", "datemodified", "systemmodstamp")
_CHECK_KINDS = ("timestamp", "date", "int16", "int32", "int64")


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace(" ", "")


def detect_check_column(
    table: TableSchema, explicit: Sequence[str], primary_key: Sequence[str]
) -> Column | None:
    """The incremental check column of a source table, or None (full mode).

    The rule: with ``IncrementalCheckColumns`` the first listed column that exists in the source table
    (matched case-insensitively) is used, whatever its type; CData's "first that exists wins". Without the
    option, the first source column (in table order) whose name, lower-cased and stripped of ``_`` and
    spaces, is one of ``updatedat``, ``modified``, ``lastmodified``, ``datemodified``, ``systemmodstamp``
    (``updated_at``, ``Modified``, ``last_modified``, ``DateModified``, ``SystemModstamp``...) and whose type
    is a timestamp, date or integer. Incremental mode also needs a primary key: without one, None.

    Rows whose check column is NULL are never read by incremental runs (they have no position in time);
    on SQLite the check column must hold ISO text with a space separator (``YYYY-MM-DD HH:MM:SS``), as
    written by this engine and Python's sqlite3, because SQLite compares the text.
    """
    if not primary_key:
        return None
    for name in explicit:
        col = table.column(name.strip())
        if col is not None:
            return col
    if explicit:
        return None
    for col in table.columns:
        if _norm(col.name) in AUTO_CHECK_NAMES and col.type.kind in _CHECK_KINDS:
            return col
    return None


@dataclass
class SourceQuery:
    """The resolved read side of one query.

    :param columns: output columns, named as in the destination, with neutral types (None = unknown yet)
    :param natives: the source's native type name per output column ("" when computed)
    :param exprs: SELECT list items (rendered, aliased)
    :param check: the source check column, if incremental is possible
    :param check_sql: the check column reference, quoted for the source
    :param check_index: position of the check value in a fetched row
    :param hidden: trailing helper columns in a fetched row that are not written
    """

    table: TableSchema
    from_sql: str
    exprs: list[str]
    columns: list[Column]
    types_known: list[bool]
    primary_key: tuple[str, ...]
    where_sql: str | None = None
    check: Column | None = None
    check_sql: str | None = None
    check_index: int | None = None
    hidden: int = 0
    natives: list[str] = field(default_factory=list)
    #: the table name alone, quoted (for reading it through another qualifier)
    name_sql: str = ""
    #: the source names its database/schema explicitly (``from_sql`` then reads it from any connection)
    qualified: bool = False

    def sql(self, conditions: Sequence[str] = (), order_by_check: bool = False, prefix: str = "") -> str:
        """The SELECT with extra ``conditions``; ``prefix`` qualifies the table (an attached database)."""
        where = ([f"({self.where_sql})"] if self.where_sql else []) + list(conditions)
        source = prefix + self.name_sql if prefix and not self.qualified else self.from_sql
        text = f"SELECT {', '.join(self.exprs)} FROM {source}"
        if where:
            text += " WHERE " + " AND ".join(where)
        if order_by_check and self.check_sql:
            text += f" ORDER BY {self.check_sql}"
        return text

    def keys_sql(self, d: Dialect) -> str:
        """SELECT of the key columns only (for delete detection), with the user's WHERE."""
        idx = {c.name: i for i, c in enumerate(self.columns)}
        items = [self.exprs[idx[k]] for k in self.primary_key]
        text = f"SELECT {', '.join(items)} FROM {self.from_sql}"
        if self.where_sql:
            text += f" WHERE ({self.where_sql})"
        return text


def resolve_source(plan: ReplicationPlan, d: Dialect, conn: Any) -> SourceQuery:
    """Reflect the source table and build the query that reads it (see module docstring)."""
    ref = plan.select.source if plan.select is not None else plan.source
    schema = ref.schema
    table = d.reflect(conn, schema, ref.name)
    if table is None:
        raise TerminalReplicationError(f"Source table '{'.'.join(ref.parts)}' does not exist")
    from_sql = d.qualify(schema, ref.name)
    q = d.quote_ident
    exprs: list[str] = []
    cols: list[Column] = []
    known: list[bool] = []
    natives: list[str] = []
    src_of: dict[str, str] = {}  # output name -> source column name, for bare column items

    def add_table_col(c: Column, alias: str | None = None) -> None:
        name = alias or c.name
        expr = d.select_column(c)
        exprs.append(expr + (f" AS {q(name)}" if name != c.name or expr != q(c.name) else ""))
        cols.append(Column(name, c.type, c.nullable, c.native))
        known.append(True)
        natives.append(c.native)
        src_of[name] = c.name

    if plan.select is None or plan.select.is_star:
        if plan.columns and plan.select is None:
            for cd in plan.columns:
                c = table.column(cd.name)
                if c is None:
                    raise TerminalReplicationError(
                        f"Column '{cd.name}' of the statement does not exist in source table '{ref.name}'"
                    )
                add_table_col(c, cd.name if cd.name != c.name else None)
        else:
            for c in table.columns:
                add_table_col(c)
    else:
        for i, item in enumerate(plan.select.items):
            if item.star:
                for c in table.columns:
                    add_table_col(c)
                continue
            assert item.expr is not None
            bare = item.expr.column
            src_col = table.column(bare) if bare else None
            if src_col is not None and len([t for t in item.expr.tokens if t.kind == "ident"]) <= 2:
                add_table_col(src_col, item.alias)
                continue
            name = item.output_name or f"Column{i + 1}"
            exprs.append(f"{item.expr.render(q, d.quote_string)} AS {q(name)}")
            cols.append(Column(name, ColType("text")))
            known.append(False)
            natives.append("")
    names = [c.name for c in cols]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise TerminalReplicationError(
            f"Duplicate output column(s) {sorted(dupes)}: give them distinct aliases"
        )

    # explicit column definitions override output types
    for cd in plan.columns:
        for i, c in enumerate(cols):
            if c.name.lower() == cd.name.lower():
                cols[i] = Column(c.name, parse_sql_type(cd.type_sql), c.nullable, "")
                known[i] = True
                natives[i] = ""

    if not all(known):
        described = d.describe(conn, f"SELECT {', '.join(exprs)} FROM {from_sql}")
        for i, (_, t) in enumerate(described):
            if not known[i] and t is not None:
                cols[i] = replace(cols[i], type=t)
                known[i] = True

    where_sql = plan.select.where.render(q, d.quote_string) if plan.select and plan.select.where else None

    # primary key: explicit, else the reflected one when every key column is selected as itself
    if plan.primary_key:
        pk: list[str] = []
        for k in plan.primary_key:
            match = [c.name for c in cols if c.name.lower() == k.lower()]
            if not match:
                raise TerminalReplicationError(
                    f"Primary key column '{k}' is not among the replicated columns"
                )
            pk.append(match[0])
    else:
        rev = {v: k for k, v in src_of.items()}
        pk = [rev[k] for k in table.primary_key if k in rev]
        if len(pk) != len(table.primary_key):
            pk = []
    sq = SourceQuery(
        table=table,
        from_sql=from_sql,
        exprs=exprs,
        columns=cols,
        types_known=known,
        primary_key=tuple(pk),
        where_sql=where_sql,
        natives=natives,
        name_sql=q(ref.name),
        # SQLite qualifies every table with "main": an attached source must replace that
        qualified=bool(schema) and d.name != "sqlite",
    )
    check = detect_check_column(table, plan.incremental_check_columns, pk)
    if check is not None:
        sq.check = check
        sq.check_sql = q(check.name)
        for i, name in enumerate(names):
            if src_of.get(name) == check.name:
                sq.check_index = i
                break
        else:
            sq.exprs.append(f"{q(check.name)} AS {q('__as_check')}")
            sq.check_index = len(exprs) - 1
            sq.hidden = 1
    return sq

"""The ``_airflow_sync_state`` table in the destination (design D11): one row per (job, query).

Written inside the load transaction, so data and watermark cannot diverge: a run killed at any point
leaves both as of the last commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_sync.engine.dialects.base import Dialect
from airflow_sync.engine.types import ColType, Column

STATE_TABLE = "_airflow_sync_state"
_COLUMNS = (
    Column("job", ColType("string", length=255), False),
    Column("query", ColType("string", length=255), False),
    Column("table", ColType("string", length=255)),
    Column("watermark", ColType("string", length=64)),
    Column("updated", ColType("string", length=40)),
)


def ensure_state_table(d: Dialect, conn: Any, schema: str | None) -> None:
    """Create the state table if missing (DDL: call outside the data transaction).

    Jobs that start together against a new destination all find it missing: see
    :meth:`~airflow_sync.engine.dialects.base.Dialect.create_racing`.
    """
    if d.reflect(conn, schema, STATE_TABLE) is None:
        d.create_racing(
            conn,
            d.create_table_sql(schema, STATE_TABLE, _COLUMNS, ("job", "query")),
            lambda: d.reflect(conn, schema, STATE_TABLE) is not None,
        )


def read_watermark(d: Dialect, conn: Any, schema: str | None, job: str, query: str) -> str | None:
    q = d.quote_ident
    p = d.placeholder
    return d.scalar(  # type: ignore[no-any-return]
        conn,
        f"SELECT {q('watermark')} FROM {d.qualify(schema, STATE_TABLE)} "
        f"WHERE {q('job')} = {p} AND {q('query')} = {p}",
        (job, query),
    )


def write_watermark(
    d: Dialect, conn: Any, schema: str | None, job: str, query: str, table: str, watermark: str | None
) -> None:
    """Replace the (job, query) row; must run inside the data transaction."""
    q = d.quote_ident
    p = d.placeholder
    t = d.qualify(schema, STATE_TABLE)
    d.execute(conn, f"DELETE FROM {t} WHERE {q('job')} = {p} AND {q('query')} = {p}", (job, query))
    if watermark is None:
        return
    cols = ", ".join(q(c.name) for c in _COLUMNS)
    d.execute(
        conn,
        f"INSERT INTO {t} ({cols}) VALUES ({', '.join([p] * len(_COLUMNS))})",
        (job, query, table, watermark, datetime.now(UTC).isoformat(timespec="seconds")),
    )

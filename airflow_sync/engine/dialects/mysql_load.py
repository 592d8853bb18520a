"""MySQL / MariaDB bulk writes: multi-row INSERTs rendered column-wise, executed on a helper thread.

Rendering the literals is Python work while executing an INSERT is server work: a helper thread runs
statement N while the calling thread fetches and renders statement N+1, so the two overlap (PyMySQL
releases the GIL while it waits on the socket). The connection is used by the helper thread only until
:func:`load_rows` returns, so the caller's transaction handling is unchanged.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_sync.engine.dialects.mysql_literals import MAX_STATEMENT, render_column
from airflow_sync.engine.types import Column

Row = tuple[Any, ...]


def render_batch(kinds: Sequence[str], batch: list[Row]) -> list[str]:
    """The ``(v1,v2,...)`` tuples of one batch, rendered column by column (``render_column``)."""
    if not batch:
        return []
    cols = list(zip(*batch, strict=True))
    rendered = [render_column(k, c) for k, c in zip(kinds, cols, strict=True)]
    return ["(" + ",".join(t) + ")" for t in zip(*rendered, strict=True)]


def _statements(prefix: str, rows: list[str]) -> Iterable[str]:
    """``rows`` as one INSERT, or several when it would exceed :data:`MAX_STATEMENT` bytes."""
    parts: list[str] = []
    size = 0
    for r in rows:
        parts.append(r)
        size += len(r) + 1
        if size > MAX_STATEMENT:
            yield prefix + ",".join(parts)
            parts, size = [], 0
    if parts:
        yield prefix + ",".join(parts)


def load_rows(
    conn: Any, table: str, cols_sql: str, columns: Sequence[Column], batches: Iterable[list[Row]]
) -> int:
    """INSERT every batch into ``table``; returns rows written. Errors of the helper thread re-raise here.

    :param cols_sql: the quoted, comma-separated column list
    """
    prefix = f"INSERT INTO {table} ({cols_sql}) VALUES "
    kinds = [c.type.kind for c in columns]
    # two statements in flight at most: memory stays bounded by ~2 batches
    todo: queue.Queue[str | None] = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        with conn.cursor() as cur:
            while True:
                sql = todo.get()
                if sql is None:
                    return
                if errors or stop.is_set():
                    continue  # drain without executing: the caller is unwinding
                try:
                    cur.execute(sql)
                except BaseException as exc:  # handed to the calling thread
                    errors.append(exc)

    helper = threading.Thread(target=writer, name="mysql-load", daemon=True)
    helper.start()
    n = 0
    try:
        for batch in batches:
            for sql in _statements(prefix, render_batch(kinds, batch)):
                if errors:
                    raise errors[0]
                todo.put(sql)
            n += len(batch)
    except BaseException:
        stop.set()
        raise
    finally:
        todo.put(None)
        helper.join()
    if errors:
        raise errors[0]
    return n

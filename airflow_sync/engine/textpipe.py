"""The text pipe: a bulk load between two engines without a Python object per value.

The source renders every row as one line of PostgreSQL ``COPY`` text, which is also MySQL's
``LOAD DATA`` default format: fields separated by a tab, ``\\N`` for NULL, backslash escapes for
backslash, tab, newline and carriage return (and ``\\b``, which both read), booleans as ``1``/``0``,
numbers, dates and timestamps in their ISO text forms, aware timestamps as naive wall time. The
destination ingests the lines in bulk (``COPY ... FROM STDIN``, ``LOAD DATA LOCAL``). Per-value work is
SQL on the two servers; Python only moves blocks of bytes.

Used only where the text form is exact in both engines and the row path would not check or change a
value (no length check, no AutoTruncateStrings count, no coercion); everything else takes the row path.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_sync.engine.types import ColType
from airflow_sync.engine.watermark import as_datetime

if TYPE_CHECKING:
    from airflow_sync.engine.ddl import DestinationTable
    from airflow_sync.engine.load import Run

#: use the text pipe where it applies; tests turn it off to compare with the row path
TEXT_PIPE = True

#: (source, destination) dialects with a text path (MySQL to MySQL on one server copies in the engine)
_PAIRS = {("mysql", "postgresql"), ("postgresql", "mysql"), ("mysql", "mysql")}
_INT_RANK = {"int16": 1, "int32": 2, "int64": 3}
_SAME_KIND = ("bool", "float64", "date", "json", "uuid")


def _fits(s: ColType, d: ColType, naive_zone: str | None) -> bool:
    """True when every value of ``s`` is stored unchanged by ``d`` from its text form."""
    if s.kind in _INT_RANK:
        return d.kind in _INT_RANK and _INT_RANK[d.kind] >= _INT_RANK[s.kind]
    if s.kind == "decimal":
        if d.kind != "decimal" or s.precision is None:
            return False
        if d.precision is None:
            return True
        ss, ds = s.scale or 0, d.scale or 0
        return ds >= ss and d.precision - ds >= s.precision - ss
    if s.kind in ("string", "text"):
        if d.kind == "text" or (d.kind == "string" and d.length is None):
            return True
        # a shorter destination needs the row path's length check (or AutoTruncateStrings)
        limit = d.length if d.kind == "string" else None
        return limit is not None and s.kind == "string" and s.length is not None and s.length <= limit
    if s.kind == "timestamp":
        if d.kind != "timestamp" or d.tz:
            return False
        return not s.tz or naive_zone is not None
    return s.kind == d.kind and s.kind in _SAME_KIND


def _local_is_utc() -> bool:
    """The worker's zone is UTC at every date (then local wall time can be computed in SQL)."""
    return time.tzname[0] == "UTC" and time.timezone == 0 and not time.daylight


def _prefetch(stream: Iterator[bytes], check: Callable[[], None], depth: int = 4) -> Iterator[bytes]:
    """``stream`` read on a helper thread, at most ``depth`` blocks ahead, so that reading the source
    (Python work per row on a PostgreSQL source) overlaps the destination's ingest. The helper calls
    ``check`` (cancellation) after each block; its errors re-raise here; closing this generator stops the
    helper, which closes ``stream``."""
    todo: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for block in stream:
                check()
                todo.put((True, block))
                if stop.is_set():
                    return
            todo.put((False, None))
        except BaseException as exc:  # handed to the consuming thread
            todo.put((False, exc))
        finally:
            stream.close()  # type: ignore[attr-defined]

    helper = threading.Thread(target=read, name="textpipe-read", daemon=True)
    helper.start()
    try:
        while True:
            ok, item = todo.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while helper.is_alive():  # unblock a helper waiting to put
            with contextlib.suppress(queue.Empty):
                todo.get(timeout=0.05)
        helper.join()


def _blocks(run: Run, stream: Iterator[bytes], label: str) -> Iterator[bytes]:
    """The source's blocks (one per batch of rows), with cancellation checks and the batch count; errors
    are attributed to the side that raised them."""
    while True:
        run._at("source", f"reading '{run.summary.source}'")
        block = next(stream, None)
        run._at("destination", f"copying into {label}")
        if block is None:
            return
        run.token.check()
        run.summary.batches += 1
        yield block


def copy_text(
    run: Run, target: str, table: DestinationTable, conds: list[str], order: bool = False
) -> int | None:
    """Load the source rows into ``target`` through the text pipe; rows copied, or None when it does not
    apply (see module docstring) and the caller takes the row path.

    Counts and the check column's maximum are kept in the run as the row path keeps them.
    """
    sq = run.sq
    assert sq is not None
    src_d, dst_d = run.src_d, run.dst_d
    if not TEXT_PIPE or sq.hidden or (src_d.name, dst_d.name) not in _PAIRS:
        return None
    zone = "UTC" if run.plan.use_gmt or _local_is_utc() else None
    exprs: list[str] = []
    for s, d in zip(sq.columns, table.columns, strict=True):
        if d.native.startswith("?") or not _fits(s.type, d.type, zone):
            return None
        expr = src_d.text_render(s, zone if s.type.tz else None)
        if expr is None:
            return None
        exprs.append(expr)
    if not dst_d.text_load_ready(run.dst):
        return None
    stream = src_d.text_stream(run.src, sq.sql(conds, order), exprs, max(1, run.plan.batch_size))
    if stream is None:
        return None
    label = (
        f"'{table.name}'"
        if target == dst_d.qualify(table.schema, table.name)
        else f"the staging table of '{table.name}'"
    )
    t0 = time.monotonic()
    ahead = _prefetch(stream, run.token.check)
    try:
        n = dst_d.load_text(run.dst, target, table.columns, _blocks(run, ahead, label), label)
    finally:
        ahead.close()  # type: ignore[attr-defined]
    run._at("destination", f"copying into {label}")
    if run.src is not run.dst:
        src_d.rollback(run.src)
    run.token.check()
    run.summary.rows_read += n
    if sq.check_index is not None:
        _max_seen(run, target, table, sq.check_index)
    from airflow_sync.engine import load

    load._hook("batch")
    run.detail("copied %d rows through the text pipe in %.3f s", n, time.monotonic() - t0)
    return n


def _max_seen(run: Run, target: str, table: DestinationTable, index: int) -> None:
    """The check column's maximum, read back from the rows just loaded (as the in-engine copy does)."""
    d = run.dst_d
    col = table.columns[index]
    m = d.scalar(run.dst, f"SELECT MAX({d.quote_ident(col.name)}) FROM {target}")
    canon = d.reader(col.type, col.native)
    m = canon(m) if canon is not None and m is not None else m
    if isinstance(m, datetime) and run.sq is not None and run.sq.columns[index].type.tz and m.tzinfo is None:
        m = m.replace(tzinfo=UTC)  # an aware source column loaded as UTC wall time (see copy_text)
    if m is not None:
        m = as_datetime(m) if not isinstance(m, int) else m
        run.max_seen = m if run.max_seen is None or m > run.max_seen else run.max_seen

"""Read stage: the source's rows as batches (row path) or as blocks of text lines (text pipe).

Both check for cancellation between batches, count what they read, keep the check column's maximum
(row path) and record which side runs, so that an error names the right database.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from airflow_sync.engine import hooks
from airflow_sync.engine.context import RunContext
from airflow_sync.engine.convert import batch_max
from airflow_sync.engine.dialects import sqlite_arrow
from airflow_sync.engine.dialects.base import Row
from airflow_sync.engine.watermark import as_datetime


def row_batches(ctx: RunContext, sql: str, into: str, track_max: bool = True) -> Iterator[list[Row]]:
    """The fetched rows of ``sql`` in batches of the plan's size, as the driver returns them, fetched ahead
    on a helper thread (unless source and destination share one connection) so that the source's work
    overlaps the conversion and the destination's.

    Between two batches (after the consumer wrote one): cancellation check, test hook, progress log.

    :param into: how messages name the table being loaded
    :param track_max: keep the check column's maximum from the fetched values (False: the caller reads it
        back from the destination)
    """
    sq = ctx.sq
    assert sq is not None
    canon = ctx.src_d.reader(sq.check.type, sq.check.native) if sq.check is not None else None
    size = max(1, ctx.plan.batch_size)
    t0 = time.monotonic()
    ctx.at("source", f"reading '{ctx.summary.source}'")
    stream = ctx.src_d.stream(ctx.src, sql, (), size)
    if not ctx.shared:
        stream = prefetch(stream, ctx.token.check)
    n = 0
    try:
        for raw in stream:
            ctx.token.check()
            n += 1
            if track_max and sq.check_index is not None:
                m = batch_max(raw, sq.check_index, canon)
                if m is not None:
                    ctx.see(as_datetime(m) if not isinstance(m, int) else m)
            ctx.summary.rows_read += len(raw)
            ctx.summary.batches += 1
            ctx.at("destination", f"loading batch {n} into {into}")
            t1 = time.monotonic()
            yield raw
            ctx.token.check()
            hooks.point("batch")
            now = time.monotonic()
            ctx.detail("batch %d: %d rows in %.3f s (total %d)", n, len(raw), now - t1, ctx.summary.rows_read)
            if ctx.plan.verbosity == 2 and now - ctx.last_progress > 10:
                ctx.last_progress = now
                ctx.info("progress: %d rows in %.1f s", ctx.summary.rows_read, now - t0)
            ctx.at("source", f"reading '{ctx.summary.source}' after batch {n}")
    finally:
        stream.close()  # type: ignore[attr-defined]


def at_least(ctx: RunContext, conds: list[str], n: int) -> bool:
    """The load reads at least ``n`` rows (the source stops looking there)."""
    sq = ctx.sq
    assert sq is not None
    if n <= 1:
        return True
    ctx.at("source", f"sizing the read of '{ctx.summary.source}'")
    found = ctx.src_d.scalar(ctx.src, f"SELECT 1 FROM ({sq.sql(conds)}) q LIMIT 1 OFFSET {n - 1}")
    ctx.rollback_source()
    return found is not None


def text_blocks(ctx: RunContext, sqls: list[str], exprs: list[str], into: str) -> Iterator[bytes] | None:
    """Blocks of text-pipe lines of ``sqls`` rendered by ``exprs``, read ahead on a helper thread; None when
    the source cannot stream them. Close the returned generator to stop the helper.

    :param sqls: one statement, or a window split by key (engine/split.py): each range then read at once,
        on its own helper and connection, and their blocks handed on in range order
    """
    size = max(1, ctx.plan.batch_size)
    if len(sqls) > 1:
        opens = [functools.partial(ctx.src_d.text_stream, ctx.src, part, exprs, size) for part in sqls]
        return _counted(ctx, _ranged(opens, ctx.token.check), into)
    stream = ctx.src_d.text_stream(ctx.src, sqls[0], exprs, size)
    if stream is None:
        return None
    return _counted(ctx, prefetch(stream, ctx.token.check), into)


def arrow_blocks(
    ctx: RunContext, sql: str, cols: list[sqlite_arrow.ArrowColumn], into: str
) -> Iterator[bytes]:
    """Blocks of text-pipe lines of a SQLite source's ``sql`` rendered through Arrow (route.arrow_columns),
    read and rendered ahead on a helper thread (Arrow's kernels and ADBC's reader release the GIL).
    Raises :class:`sqlite_arrow.NotExact` at a batch the path cannot render as the row path would."""
    path = ctx.src_d.url.database or ""
    stream = sqlite_arrow.text_blocks(path, sql, cols, max(1, ctx.plan.batch_size))
    return _counted(ctx, prefetch(stream, ctx.token.check), into)


def prefetch(stream: Iterator[Any], check: Callable[[], None], depth: int = 4) -> Iterator[Any]:
    """``stream`` read on a helper thread, at most ``depth`` items ahead, so that reading the source
    overlaps the destination's ingest. The helper calls ``check`` (cancellation) after each item; its errors
    re-raise here; closing this generator stops the helper, which closes ``stream``."""
    ahead = _Ahead(stream, check, depth)
    try:
        yield from ahead
    finally:
        ahead.close()


def _ranged(
    opens: Sequence[Callable[[], Iterator[bytes] | None]], check: Callable[[], None]
) -> Iterator[bytes]:
    """The streams ``opens`` open, all read at once (each opens on its helper: the statement runs there),
    their items in the order of ``opens``; closing stops every helper."""
    aheads: list[_Ahead] = []
    try:
        for open_stream in opens:
            aheads.append(_Ahead(_opened(open_stream), check))
        for ahead in aheads:
            yield from ahead
    finally:
        for ahead in aheads:
            ahead.close()


def _opened(open_stream: Callable[[], Iterator[bytes] | None]) -> Iterator[bytes]:
    stream = open_stream()
    if stream is None:  # split.key_ranges asks the dialect first: never seen
        raise RuntimeError("the source cannot stream this range")
    try:
        yield from stream
    finally:
        stream.close()  # type: ignore[attr-defined]


class _Ahead:
    """One helper thread reading ``stream`` at most ``depth`` items ahead (see :func:`prefetch`); it starts
    at once. Iterate it once; :meth:`close` stops the helper, which closes ``stream``."""

    def __init__(self, stream: Iterator[Any], check: Callable[[], None], depth: int = 4) -> None:
        self._todo: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._stream, self._check = stream, check
        # the caller's context (statement tracing, engine/trace.py) goes along to the helper
        self._helper = threading.Thread(
            target=contextvars.copy_context().run, args=(self._read,), name="engine-read", daemon=True
        )
        self._helper.start()

    def _read(self) -> None:
        todo = self._todo
        try:
            for block in self._stream:
                self._check()
                todo.put((True, block))
                if self._stop.is_set():
                    return
            todo.put((False, None))
        except BaseException as exc:  # handed to the consuming thread
            todo.put((False, exc))
        finally:
            self._stream.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Any]:
        while True:
            ok, item = self._todo.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._helper.is_alive():  # unblock a helper waiting to put
            with contextlib.suppress(queue.Empty):
                self._todo.get(timeout=0.05)
        self._helper.join()


def _counted(ctx: RunContext, stream: Iterator[bytes], into: str) -> Iterator[bytes]:
    """The source's blocks (one per batch of rows), with cancellation checks and the batch count; errors
    are attributed to the side that raised them."""
    try:
        while True:
            ctx.at("source", f"reading '{ctx.summary.source}'")
            block = next(stream, None)
            ctx.at("destination", f"copying into {into}")
            if block is None:
                return
            ctx.token.check()
            ctx.summary.batches += 1
            yield block
    finally:
        stream.close()  # type: ignore[attr-defined]

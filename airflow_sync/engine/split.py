"""Split a small incremental window by key, so that its ranges are read at once (read.text_blocks).

An incremental window of a few thousand changed rows spread over a large table touches as many table pages
as rows. When those pages are not cached, one statement reads them one at a time: InnoDB fetches a
query's pages synchronously, so the read waits on the disk once per row (10,000 rows of a cold 1M-row
table: 0.55-0.95 s here). The window's keys, read from the check column's index (which holds them), cut
it into :data:`PARTS` key ranges of about equal rows; each range then runs on its own connection and
the disk serves them together (0.19-0.29 s). The blocks still go to the destination in key-range order,
and each range is read ahead only as far as a single read is (read.prefetch), so memory does not grow.

Only where the source's text streams open their own connections (``Dialect.parallel_reads``), for a
single-column integer key, and for windows of :data:`MIN_ROWS` to :data:`MAX_ROWS` rows: fewer rows cost
less than the extra connections; more would keep a later range waiting on the earlier ones for long
(the server drops a stalled result after ``net_write_timeout``), and a large window reads its pages in
order anyway. Each range is its own statement: a row changed between them is read once, in the version
its range saw; as with one statement, a change after the read is picked up by the next run.
"""

from __future__ import annotations

import itertools

from airflow_sync.engine import read
from airflow_sync.engine.commit import INT_KINDS
from airflow_sync.engine.context import RunContext

#: key ranges read at once (4 and 8 read a cold window equally fast here: the disk's queue is full)
PARTS = 4
MIN_ROWS = 2_000
MAX_ROWS = 100_000


def key_ranges(ctx: RunContext, conds: list[str]) -> list[list[str]]:
    """Conditions that split the window ``conds`` into :data:`PARTS` key ranges of about equal rows, in
    key order; ``[]`` to read it as one statement."""
    sq, d = ctx.sq, ctx.src_d
    if sq is None or not conds or not d.parallel_reads():
        return []
    if len(sq.table.primary_key) != 1:
        return []
    key = sq.table.column(sq.table.primary_key[0])
    if key is None or key.type.kind not in INT_KINDS:
        return []
    # a large window is sized on the server first: its keys are not fetched only to be counted
    if read.at_least(ctx, conds, MAX_ROWS + 1):
        return []
    ref = d.quote_ident(key.name)
    where = ([f"({sq.where_sql})"] if sq.where_sql else []) + conds
    # no ORDER BY: with it the server may walk the whole table in key order to stop early
    sql = f"SELECT {ref} FROM {sq.from_sql} WHERE {' AND '.join(where)} LIMIT {MAX_ROWS + 1}"
    ctx.at("source", f"reading the keys of the changed rows of '{ctx.summary.source}'")
    keys: list[int] = []
    stream = d.stream(ctx.src, sql, (), 10_000)
    try:
        for batch in stream:
            keys.extend(int(row[0]) for row in batch)
    finally:
        stream.close()  # type: ignore[attr-defined]
    ctx.rollback_source()
    if not MIN_ROWS <= len(keys) <= MAX_ROWS:
        return []
    keys.sort()
    cuts = sorted({keys[len(keys) * i // PARTS] for i in range(1, PARTS)})
    bounds: list[int | None] = [None, *cuts, None]
    ctx.detail("reading %d changed rows in %d key ranges at once", len(keys), len(bounds) - 1)
    return [
        ([f"{ref} >= {lo}"] if lo is not None else []) + ([f"{ref} < {hi}"] if hi is not None else [])
        for lo, hi in itertools.pairwise(bounds)
    ]

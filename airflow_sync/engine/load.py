"""The transaction layout of one run (the idempotency core, ``research/replication-peers.md`` §4.4).

Full mode, one destination transaction: (DROP + CREATE when DropTable, on transactional-DDL backends) →
either *direct* (target empty, TruncateTable or no key: ``DELETE`` + bulk load into the target) or
*staged* (bulk load into a session-private stage, then ``DELETE`` vanished keys, ``UPDATE`` changed rows,
``INSERT`` new ones) → state row → COMMIT. MVCC (PostgreSQL, InnoDB) and SQLite's locking mean readers
see the old contents until the commit, and any failure leaves them untouched.

Incremental mode: one such staged transaction per window, each committing its own watermark.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.ddl import DestinationTable, ensure_table
from airflow_sync.engine.dialects.base import Dialect, Row
from airflow_sync.engine.plan import ReplicationPlan, ReplicationSummary
from airflow_sync.engine.reflect import SourceQuery, resolve_source
from airflow_sync.engine.state import ensure_state_table, write_watermark
from airflow_sync.engine.textpipe import copy_text
from airflow_sync.engine.types import Column, infer_type
from airflow_sync.engine.watermark import (
    as_datetime,
    format_watermark,
    next_watermark,
)
from airflow_sync.engine.writer import RowConverter, batch_max

_INT_KINDS = ("int16", "int32", "int64")

#: test hook, called with a point name: "batch" (after each batch is written), "staged" (all rows loaded),
#: "merged" (merge statements done), "commit" (state row written, just before COMMIT), "committed".
#: Crash-safety tests pause or fail a run at these points.
test_hook: Any = None


#: use same-engine copies (PG COPY pipe, SQLite INSERT ... SELECT) when types allow; tests turn it off to
#: exercise the row path between two SQLite files
IN_ENGINE_COPY = True


def _hook(point: str) -> None:
    if test_hook is not None:
        test_hook(point)


class Run:
    """State of one running query (see module docstring)."""

    def __init__(
        self,
        plan: ReplicationPlan,
        src_d: Dialect,
        src: Any,
        dst_d: Dialect,
        dst: Any,
        token: CancelToken,
        log: logging.Logger,
    ) -> None:
        self.plan = plan
        self.src_d, self.src, self.dst_d, self.dst = src_d, src, dst_d, dst
        self.token = token
        self.log = log
        self.where = "reflecting the source"
        self.side = "source"
        self.sq: SourceQuery | None = None
        self.table: DestinationTable | None = None
        self.tag = uuid.uuid4().hex[:8]
        src_name = ".".join((plan.select.source if plan.select else plan.source).parts)
        dest_name = (plan.destination_schema + "." if plan.destination_schema else "") + plan.destination
        self.summary = ReplicationSummary(plan.job_name, plan.query_id, src_name, dest_name)
        self._last_progress = time.monotonic()
        self.max_seen: Any = None
        #: prefix that names the source inside the destination connection (SQLite ATTACH), "" = none
        self.attached = ""

    # --- helpers ------------------------------------------------------------------------------------
    def info(self, msg: str, *args: Any) -> None:
        if self.plan.verbosity >= 2:
            self.log.info(msg, *args)

    def detail(self, msg: str, *args: Any) -> None:
        if self.plan.verbosity >= 3:
            self.log.info(msg, *args)

    def known_names(self) -> list[str]:
        names = [self.plan.destination, self.plan.destination_schema or "", *self.plan.source.parts]
        if self.sq is not None:
            names += [c.name for c in self.sq.columns] + [c.name for c in self.sq.table.columns]
        if self.plan.select is not None:
            names += list(self.plan.select.source.parts)
        return [n for n in names if n]

    def _at(self, side: str, where: str) -> None:
        self.side, self.where = side, where

    # --- entry --------------------------------------------------------------------------------------
    def execute(self) -> ReplicationSummary:
        plan = self.plan
        if plan.command_timeout:
            # before the first statement that may wait on the destination (SQLite's ATTACH waits on a lock)
            self.dst_d.set_timeout(self.dst, plan.command_timeout)
            self.dst_d.commit(self.dst)  # PostgreSQL: a SET inside a rolled-back transaction is undone
        self.sq = sq = resolve_source(plan, self.src_d, self.src)
        self.src_d.rollback(self.src)
        if self.src is not self.dst:
            self.attached = self.dst_d.attach(self.dst, self.src_d) or ""
        if not all(sq.types_known):
            self._infer_types(sq)
        schema = plan.destination_schema or None
        self._at("destination", f"preparing table '{plan.destination}'")
        incremental = sq.check is not None and not plan.drop_table and not plan.truncate_table
        swap = plan.drop_table and not self.dst_d.transactional_ddl
        if plan.drop_table and self.dst_d.transactional_ddl:
            self.table = None  # DROP + CREATE happen inside the load transaction
            if schema:
                self.dst_d.create_schema(self.dst, schema)
        else:
            name = f"{plan.destination}__as_new" if swap else plan.destination
            if swap:
                self.dst_d.execute(self.dst, self.dst_d.drop_table_sql(schema, name))
            self.table = ensure_table(
                self.dst_d, self.dst, schema, name, sq.columns, sq.primary_key,
                alter_schema=plan.alter_schema or swap, log=self.info,
            )  # fmt: skip
            self.summary.table_created = self.table.created and not swap
            self.summary.columns_added = list(self.table.added)
        ensure_state_table(self.dst_d, self.dst, schema)
        self.dst_d.commit(self.dst)
        self.summary.mode = "incremental" if incremental else "full"
        self.info(
            "Replicating %s -> %s (%s mode, %d columns, key %s)",
            self.summary.source, self.summary.destination, self.summary.mode, len(sq.columns),
            list(sq.primary_key) or "none",
        )  # fmt: skip
        if incremental:
            self._incremental(schema)
        else:
            self._full(schema, swap)
        self.info(
            "Done %s: read %d, inserted %d, updated %d, deleted %d, truncated %d",
            self.summary.destination, self.summary.rows_read, self.summary.rows_inserted,
            self.summary.rows_updated, self.summary.rows_deleted, self.summary.strings_truncated,
        )  # fmt: skip
        return self.summary

    def _infer_types(self, sq: SourceQuery) -> None:
        """Type computed columns the driver could not describe from a sample of rows (SQLite)."""
        self._at("source", "sampling computed columns")
        gen: Generator[list[Row], None, None] = self.src_d.stream(self.src, sq.sql(), (), 200)  # type: ignore[assignment]
        try:
            sample = next(gen, [])
        finally:
            gen.close()
        self.src_d.rollback(self.src)
        for i, known in enumerate(sq.types_known):
            if not known:
                sq.columns[i] = Column(sq.columns[i].name, infer_type([r[i] for r in sample]))
                sq.types_known[i] = True

    # --- reading ------------------------------------------------------------------------------------
    def _batches(
        self, sql: str, params: tuple[Any, ...], conv: RowConverter, into: str
    ) -> Iterator[list[Row]]:
        """Fetched, converted batches with cancellation checks, counts, max check value and progress logs."""
        sq = self.sq
        assert sq is not None
        canon = self.src_d.reader(sq.check.type, sq.check.native) if sq.check is not None else None
        size = max(1, self.plan.batch_size)
        t0 = time.monotonic()
        self._at("source", f"reading '{self.summary.source}'")
        stream = self.src_d.stream(self.src, sql, params, size)
        try:
            for raw in stream:
                self.token.check()
                n = conv.batch_no + 1
                if sq.check_index is not None:
                    m = batch_max(raw, sq.check_index, canon)
                    if m is not None:
                        m = as_datetime(m) if not isinstance(m, int) else m
                        self.max_seen = m if self.max_seen is None or m > self.max_seen else self.max_seen
                rows = conv.convert(raw)
                self.summary.rows_read += len(rows)
                self.summary.batches += 1
                self._at("destination", f"loading batch {n} into {into}")
                t1 = time.monotonic()
                yield rows
                self.token.check()
                _hook("batch")
                now = time.monotonic()
                self.detail(
                    "batch %d: %d rows in %.3f s (total %d)", n, len(rows), now - t1, self.summary.rows_read
                )
                if self.plan.verbosity == 2 and now - self._last_progress > 10:
                    self._last_progress = now
                    self.info("progress: %d rows in %.1f s", self.summary.rows_read, now - t0)
                self._at("source", f"reading '{self.summary.source}' after batch {n}")
        finally:
            stream.close()  # type: ignore[attr-defined]
        self.summary.strings_truncated = conv.truncated

    def _converter(self, table: DestinationTable) -> RowConverter:
        sq = self.sq
        assert sq is not None
        return RowConverter(
            self.src_d, self.dst_d, sq.columns, table.columns, table=table.name,
            use_gmt=self.plan.use_gmt, auto_truncate=self.plan.auto_truncate_strings, hidden=sq.hidden,
        )  # fmt: skip

    def _load(self, target: str, table: DestinationTable, conds: list[str], order: bool = False) -> int:
        sq = self.sq
        assert sq is not None
        conv = self._converter(table)
        label = (
            f"'{table.name}'"
            if target == self.dst_d.qualify(table.schema, table.name)
            else (f"the staging table of '{table.name}'")
        )
        if (
            IN_ENGINE_COPY
            and sq.hidden == 0
            and self.src_d.name == self.dst_d.name
            and all(
                self.dst_d.same_representation(s, d) for s, d in zip(sq.columns, table.columns, strict=True)
            )
        ):
            n = self._copy_in_engine(target, table, sq.sql(conds, order, prefix=self.attached), label)
            if n is not None:
                return n
        n = copy_text(self, target, table, conds, order)
        if n is not None:
            return n
        batches = self._batches(sq.sql(conds, order), (), conv, label)
        try:
            n = self.dst_d.load(self.dst, target, table.columns, batches)
        finally:
            batches.close()  # type: ignore[attr-defined]
        self.src_d.rollback(self.src) if self.src is not self.dst else None
        return n

    def _copy_in_engine(self, target: str, table: DestinationTable, sql: str, label: str) -> int | None:
        """Same-engine shortcut without per-row Python (PG ``COPY TO`` piped into ``COPY FROM``, SQLite
        ``INSERT ... SELECT`` from the attached source); None when the backend has none."""
        sq = self.sq
        assert sq is not None
        self._at("destination", f"copying into {label}")
        t0 = time.monotonic()
        n = self.dst_d.copy_query(self.src, sql, self.dst, target, table.columns, self.token)
        if n is None:
            return None
        self.src_d.rollback(self.src) if self.src is not self.dst else None
        self.token.check()
        self.summary.rows_read += n
        self.summary.batches += 1
        if sq.check_index is not None:
            col = self.dst_d.quote_ident(table.columns[sq.check_index].name)
            m = self.dst_d.scalar(self.dst, f"SELECT MAX({col}) FROM {target}")
            canon = self.dst_d.reader(
                table.columns[sq.check_index].type, table.columns[sq.check_index].native
            )
            m = canon(m) if canon is not None and m is not None else m
            if m is not None:
                m = as_datetime(m) if not isinstance(m, int) else m
                self.max_seen = m if self.max_seen is None or m > self.max_seen else self.max_seen
        _hook("batch")
        self.detail("copied %d rows inside the engine in %.3f s", n, time.monotonic() - t0)
        return n

    # --- full mode ----------------------------------------------------------------------------------
    def _full(self, schema: str | None, swap: bool) -> None:
        plan, d, conn = self.plan, self.dst_d, self.dst
        sq = self.sq
        assert sq is not None
        self.max_seen = None
        run_start = self._run_start()
        d.begin(conn)
        if plan.drop_table and d.transactional_ddl:
            self._at("destination", f"dropping table '{plan.destination}'")
            d.execute(conn, d.drop_table_sql(schema, plan.destination))
            self.table = ensure_table(
                d, conn, schema, plan.destination, sq.columns, sq.primary_key, alter_schema=True
            )
            self.summary.table_created = True
        table = self.table
        assert table is not None
        target = d.qualify(schema, table.name)
        keys = table.primary_key
        empty = table.created or not d.has_rows(conn, target)
        if plan.truncate_table or not keys or empty:
            if not empty:
                self._at("destination", f"emptying '{table.name}'")
                self.summary.rows_deleted = max(0, d.execute(conn, f"DELETE FROM {target}"))
            self.summary.rows_inserted = self._load(target, table, [])
            _hook("staged")
        else:
            stage = d.create_stage(conn, schema, table.name, [c.name for c in table.columns], self.tag, keys)
            self._load(stage, table, [])
            d.stage_loaded(conn, stage)
            _hook("staged")
            self._merge(target, stage, table, deletes=not plan.skip_deleted)
            d.drop_stage(conn, stage)
        _hook("merged")
        wm = self._final_watermark(run_start, None) if sq.check is not None else None
        self._commit(schema, wm)
        if swap:
            self._at("destination", f"swapping in the new '{plan.destination}'")
            d.swap_tables(conn, schema, plan.destination, table.name)
            self.summary.table_created = True

    def _merge(self, target: str, stage: str, table: DestinationTable, *, deletes: bool) -> None:
        d, conn = self.dst_d, self.dst
        cols = [c.name for c in table.columns]
        keys = table.primary_key
        self._at("destination", f"merging into '{table.name}'")
        if deletes:
            self.summary.rows_deleted += max(0, d.execute(conn, d.delete_missing_sql(target, stage, keys)))
        else:
            # incremental windows: the stage holds the changed rows only, a per-row upsert is cheapest
            both = d.upsert_from_stage(conn, target, stage, cols, keys)
            if both is not None:
                self.summary.rows_inserted += both[0]
                self.summary.rows_updated += both[1]
                return
        upd = d.update_from_stage_sql(target, stage, cols, keys)
        if upd is not None:
            self.summary.rows_updated += max(0, d.execute(conn, upd))
        self.summary.rows_inserted += max(
            0, d.execute(conn, d.insert_from_stage_sql(target, stage, cols, keys))
        )

    def _commit(self, schema: str | None, watermark: Any) -> None:
        plan = self.plan
        self._at("destination", f"committing '{plan.destination}'")
        write_watermark(
            self.dst_d,
            self.dst,
            schema,
            plan.job_name,
            plan.query_id,
            plan.destination,
            format_watermark(watermark),
        )
        self.summary.watermark_after = format_watermark(watermark)
        _hook("commit")
        self.token.before_commit()  # a cancel that arrived during the load never commits (issue #14)
        self.dst_d.commit(self.dst)
        _hook("committed")

    # --- incremental mode ---------------------------------------------------------------------------
    def _run_start(self) -> datetime:
        sq = self.sq
        assert sq is not None
        if sq.check is not None and sq.check.type.kind == "timestamp" and sq.check.type.tz:
            return datetime.now(UTC).replace(microsecond=0)
        if self.plan.use_gmt:
            return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        return datetime.now().replace(microsecond=0)

    def _final_watermark(self, run_start: datetime, lower: Any) -> Any:
        sq = self.sq
        assert sq is not None and sq.check is not None
        if sq.check.type.kind in _INT_KINDS:
            return self.max_seen if self.max_seen is not None else lower
        return next_watermark(
            self.max_seen, run_start, self.plan.max_lastmod_offset, self.plan.min_lastmod_offset
        )

    def _incremental(self, schema: str | None) -> None:
        from airflow_sync.engine.incremental import run_incremental

        run_incremental(self, schema)

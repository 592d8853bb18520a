"""What every stage of one run shares: the plan, both connections, the cancel token, and what is known so far.

A :class:`RunContext` is created once per run (:mod:`airflow_sync.engine.replicate`) and passed down the
stages (plan → read → convert → write → commit); stages fill it in (the resolved source query, the
destination table, counts) but never call back up.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.plan import ReplicationPlan, ReplicationSummary

if TYPE_CHECKING:
    from airflow_sync.engine.ddl import DestinationTable
    from airflow_sync.engine.dialects.base import Dialect
    from airflow_sync.engine.reflect import SourceQuery


class RunContext:
    """State of one running query.

    :param where: what is running now (errors name it), :param side: which database runs it
    """

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
        self.last_progress = time.monotonic()
        #: largest check-column value loaded so far (None = none)
        self.max_seen: Any = None
        #: prefix that names the source inside the destination connection (SQLite ATTACH), "" = none
        self.attached = ""

    @property
    def shared(self) -> bool:
        """Source and destination are one connection (the same SQLite file)."""
        return self.src is self.dst

    def info(self, msg: str, *args: Any) -> None:
        if self.plan.verbosity >= 2:
            self.log.info(msg, *args)

    def detail(self, msg: str, *args: Any) -> None:
        if self.plan.verbosity >= 3:
            self.log.info(msg, *args)

    def at(self, side: str, where: str) -> None:
        """Record what runs now, for error messages."""
        self.side, self.where = side, where

    def known_names(self) -> list[str]:
        """Identifiers that error messages may show (everything else quoted is redacted)."""
        plan = self.plan
        names = [plan.destination, plan.destination_schema or "", *plan.source.parts]
        if self.sq is not None:
            names += [c.name for c in self.sq.columns] + [c.name for c in self.sq.table.columns]
        if plan.select is not None:
            names += list(plan.select.source.parts)
        return [n for n in names if n]

    def see(self, value: Any) -> None:
        """Raise :attr:`max_seen` to ``value`` (a check-column value already in canonical form)."""
        if value is not None and (self.max_seen is None or value > self.max_seen):
            self.max_seen = value

    def rollback_source(self) -> None:
        """End the source's read transaction (not when the source is the destination connection)."""
        if not self.shared:
            self.src_d.rollback(self.src)

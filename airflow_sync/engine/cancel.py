"""Cooperative + active cancellation of a running replication.

``CancelToken.cancel()`` may be called from a signal handler or another thread (the operator's
``on_kill``). It sets a flag the engine checks between batches and calls every registered canceller, each
of which interrupts the statement in flight on one connection (``pg_cancel_backend`` via libpq's cancel
request, ``KILL QUERY`` from a second MariaDB connection, SQLite ``interrupt()``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from airflow_sync.exceptions import ReplicationCancelled


class CancelToken:
    """A one-shot cancellation flag with callbacks that interrupt in-flight statements."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._cancellers: dict[int, Callable[[], None]] = {}
        self._guards: list[Callable[[], bool]] = []
        self._listeners: list[Callable[[str, Any], None]] = []
        self._next = 0

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Request cancellation and interrupt every registered in-flight statement (idempotent)."""
        self._event.set()
        for fn in list(self._cancellers.values()):
            # a connection that is already gone has nothing to cancel
            with contextlib.suppress(Exception):
                fn()

    def register(self, fn: Callable[[], None]) -> int:
        """Add a canceller; returns a handle for :meth:`unregister`. Runs at once if already cancelled."""
        with self._lock:
            self._next += 1
            handle = self._next
            self._cancellers[handle] = fn
        if self.cancelled:
            with contextlib.suppress(Exception):
                fn()
        return handle

    def unregister(self, handle: int) -> None:
        with self._lock:
            self._cancellers.pop(handle, None)

    def check(self) -> None:
        """Raise :class:`ReplicationCancelled` when cancellation was requested."""
        if self.cancelled:
            raise ReplicationCancelled("replication cancelled")

    def add_commit_guard(self, guard: Callable[[], bool]) -> None:
        """Add a question asked right before every data COMMIT: "was this run cancelled meanwhile?".

        The orchestrator (the Airflow operator) knows of a cancel only at its next heartbeat; a guard lets the
        engine ask synchronously, inside the load's transaction, so a cancel that arrived before the commit
        never commits. A guard that raises is treated as "not cancelled": an unreachable orchestrator must not
        fail a load that nobody cancelled.
        """
        self._guards.append(guard)

    def add_commit_listener(self, listener: Callable[[str, Any], None]) -> None:
        """Add an observer of every data COMMIT: called ``("committing", summary)`` right before the commit
        guards are asked, and ``("committed", summary)`` right after the COMMIT returned, with the run's
        :class:`~airflow_sync.engine.plan.ReplicationSummary` (cumulative counts of everything committed so
        far, this transaction included). The orchestrator records from it what each attempt committed.
        """
        self._listeners.append(listener)

    def _tell(self, phase: str, summary: Any) -> None:
        for listener in list(self._listeners):
            listener(phase, summary)

    def before_commit(self, summary: Any = None) -> None:
        """The last cancellation check of a transaction: consults every commit guard, then :meth:`check`.

        :param summary: what the transaction commits (given to the commit listeners)
        """
        self._tell("committing", summary)
        for guard in list(self._guards):
            try:
                cancelled = bool(guard())
            except Exception:
                cancelled = False
            if cancelled:
                self._event.set()
                break
        self.check()

    def after_commit(self, summary: Any = None) -> None:
        """Tell the commit listeners that a data COMMIT succeeded."""
        self._tell("committed", summary)

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

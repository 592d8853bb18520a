"""Inside a running query task: record every COMMIT, refuse one after a cancel, and notice a cancel at once.

:class:`CommitRecorder` is attached to the engine's :class:`~airflow_sync.engine.cancel.CancelToken`:

* before each data COMMIT (inside the load's transaction) it writes a ``committing`` record to the task
  state store, then asks whether cancelJob asked this run to stop (the ``airflow_sync.cancel`` key) or
  Airflow no longer considers the task running; if so the COMMIT is not sent (see
  :mod:`airflow_sync.markers` for why this order makes cancelJob's answer true);
* after each COMMIT it records what was committed, and at the end that the load finished (``done``).

:class:`CancelWatcher` polls the cancel key every ``[airflow_sync] cancel_poll_seconds`` and cancels the
token, which interrupts the statement in flight — a cancel takes effect in about a second instead of at the
supervisor's next heartbeat (up to 5 s, then SIGTERM, then SIGKILL 5 s later).

Task SDK access goes through :class:`TaskStore`; tests give a fake.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from airflow_sync import markers

log = logging.getLogger(__name__)


class Store(Protocol):
    """The calls the recorder needs: the task's own state store, its XCom, its Airflow state."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def mirror(self, value: Any) -> None: ...

    def still_running(self) -> bool: ...


class TaskStore:
    """The running task's state store, XCom and state, through the Task SDK supervisor.

    Values are sent as they are (not through a worker-side ``[workers] state_store_backend``), so the API
    server can read them from the metadata DB.

    :param ti: the running task instance (``context["ti"]``)
    """

    def __init__(self, ti: Any) -> None:
        self.ti = ti

    def get(self, key: str) -> Any:
        from airflow.sdk.execution_time.comms import ErrorResponse, GetTaskStateStore
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        resp = SUPERVISOR_COMMS.send(GetTaskStateStore(ti_id=self.ti.id, key=key))
        if isinstance(resp, ErrorResponse):
            if str(getattr(resp.error, "value", resp.error)) == "TASK_STORE_NOT_FOUND":
                return None
            raise RuntimeError(f"reading task state {key!r} failed: {resp.error}")
        return getattr(resp, "value", None)

    def set(self, key: str, value: Any) -> None:
        from airflow.sdk.execution_time.comms import SetTaskStateStore
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        # never expires on its own: history reads it as long as the run exists (rows go with the DagRun)
        SUPERVISOR_COMMS.send(SetTaskStateStore(ti_id=self.ti.id, key=key, value=value, expires_at=None))

    def mirror(self, value: Any) -> None:
        self.ti.xcom_push(key=markers.COMMITS_XCOM, value=value)

    def still_running(self) -> bool:
        ti = self.ti
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id])
        state = (states.get(ti.run_id) or {}).get(ti.task_id)
        return state is None or str(state) == "running"


def cancel_requested(store: Store) -> str | None:
    """Who asked this run to stop (cancelJob's key), or None — also when the store cannot be read (the
    supervisor's heartbeat still stops a cancelled task; a load nobody cancelled must not fail)."""
    try:
        value = store.get(markers.CANCEL_KEY)
    except Exception:
        log.warning("Could not read the cancel request of this run", exc_info=True)
        return None
    if isinstance(value, dict):
        return str(value.get("by") or "cancelJob")
    return None


def worker_host() -> str:
    """This worker's name as Airflow reports it for the task instance (``[core] hostname_callable``).

    History's InstanceId joins these with the task instances' hostnames: both must name a host alike.
    """
    try:
        from airflow.sdk.api.client import get_hostname
    except ImportError:  # pragma: no cover - the Task SDK ships with every supported Airflow
        return socket.getfqdn()
    return get_hostname()


class CommitRecorder:
    """Records every COMMIT of one try in the task state store and refuses a COMMIT after a cancel.

    :param store: the task's store
    :param try_number: this try
    :param logger: the job's task logger
    """

    def __init__(self, store: Store, try_number: int, logger: logging.Logger | None = None) -> None:
        self.store = store
        self.try_number = try_number
        self.log = logger or log
        self.host = worker_host()
        self._summary: Any = None
        self._lock = threading.Lock()
        self.doc: dict[str, Any] = {"tries": {}}
        self.cancelled_by: str | None = None
        if try_number > 1:  # earlier tries' records; XCom was cleared when this try started
            try:
                previous = store.get(markers.COMMITS_KEY)
            except Exception:  # this try's records are still kept; the earlier ones are only not mirrored
                self.log.warning("Could not read the commit records of earlier tries", exc_info=True)
                previous = None
            if markers.tries(previous):
                self.doc = {"tries": dict(previous["tries"])}
                self._mirror()

    # --- CancelToken hooks ------------------------------------------------------------------------
    def attach(self, token: Any) -> None:
        """Listen to the token's commits and guard them."""
        token.add_commit_listener(self.on_commit)
        token.add_commit_guard(self.guard)

    def on_commit(self, phase: str, summary: Any) -> None:
        if phase == "committing":
            self._summary = summary
        elif phase == "committed":
            self._safely(markers.COMMITTED, committed=markers.counts(summary), pending=None)

    def guard(self) -> bool:
        """Called inside the transaction right before COMMIT: True = cancelled, do not commit."""
        pending = markers.counts(self._summary) if self._summary is not None else None
        try:
            self._record(markers.COMMITTING, pending=pending)
        except Exception:  # the cancel can still be checked; say what the race may now get wrong
            self.log.warning(
                "Could not record the pending COMMIT; a cancel racing with it may be reported wrongly",
                exc_info=True,
            )
        who = cancel_requested(self.store)
        if who is None and not self.store.still_running():
            who = "Airflow (the task is no longer running)"
        if who is not None:
            self.cancelled_by = who
            self.log.warning("Cancel requested by %s: this transaction is rolled back, nothing commits", who)
            self.aborted()
            return True
        return False

    # --- end of the try ---------------------------------------------------------------------------
    def aborted(self) -> None:
        """The pending COMMIT (if any) was not sent."""
        if self._entry().get("state") == markers.COMMITTING:
            self._safely(markers.ABORTED, pending=None)

    def done(self, summary: Any) -> None:
        """The whole load finished; ``summary`` is the engine's final summary."""
        self._safely(markers.DONE, committed=markers.counts(summary), pending=None)

    # --- helpers ----------------------------------------------------------------------------------
    def _entry(self) -> dict[str, Any]:
        return self.doc["tries"].get(str(self.try_number)) or {}

    def _safely(self, state: str, **fields: Any) -> None:
        """Record after the fact: the data outcome is decided, a failed write must not fail the task."""
        try:
            self._record(state, mirror=True, **fields)
        except Exception:
            self.log.warning("Could not record the %s state of this load", state, exc_info=True)

    def _record(self, state: str, *, mirror: bool = False, **fields: Any) -> None:
        with self._lock:
            entry = {
                "state": state,
                "host": self.host,
                "committed": self._entry().get("committed") or markers.counts({}),
                "pending": None,
            }
            entry.update(fields, state=state, at=datetime.now(UTC).isoformat(timespec="milliseconds"))
            self.doc["tries"][str(self.try_number)] = entry
            self.store.set(markers.COMMITS_KEY, self.doc)
        if mirror:
            self._mirror()

    def _mirror(self) -> None:
        try:
            self.store.mirror(self.doc)
        except Exception:  # post_job then counts this try from the return value only
            self.log.warning("Could not copy the commit records to XCom", exc_info=True)


class CancelWatcher:
    """A daemon thread that cancels ``token`` as soon as cancelJob's key appears.

    :param store: the task's store
    :param token: the engine's CancelToken
    :param interval: seconds between two looks
    """

    def __init__(
        self, store: Store, token: Any, interval: float, logger: logging.Logger | None = None
    ) -> None:
        self.store = store
        self.token = token
        self.interval = max(0.05, interval)
        self.log = logger or log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="airflow-sync-cancel-watch", daemon=True)
        self.cancelled_by: str | None = None

    def __enter__(self) -> CancelWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            who = cancel_requested(self.store)
            if who is not None:
                self.cancelled_by = who
                self.log.warning("Cancel requested by %s: stopping the statement in flight", who)
                self.token.cancel()
                return

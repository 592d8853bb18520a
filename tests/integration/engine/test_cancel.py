"""Cancellation interrupts the statement in flight (pg_cancel_backend / KILL QUERY / interrupt()) and leaves
the destination as it was."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend

# a source view whose single read statement takes minutes unless interrupted
SLOW_VIEW = {
    "postgresql": "CREATE VIEW slow_src AS SELECT id, v FROM slow_base WHERE pg_sleep(0.05) IS NOT NULL",
    "mysql": "CREATE VIEW slow_src AS SELECT id, v FROM slow_base WHERE SLEEP(0.05) = 0",
    "sqlite": (
        "CREATE VIEW slow_src AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT x AS id, 'v' AS v FROM c WHERE x % 1000000000 = 0"
    ),
}


def _setup(src, dst, table: str) -> ReplicationPlan:
    src.run("DROP VIEW IF EXISTS slow_src", "DROP TABLE IF EXISTS slow_base")
    src.run("CREATE TABLE slow_base (id INTEGER PRIMARY KEY, v VARCHAR(10))")
    mark = src.mark
    src.many(f"INSERT INTO slow_base VALUES ({mark}, {mark})", [(i, "x") for i in range(5000)])
    src.run(SLOW_VIEW[src.name])
    dst.run(f"DROP TABLE IF EXISTS {table}", f"CREATE TABLE {table} (id INTEGER, v VARCHAR(10))")
    dst.run(f"INSERT INTO {table} VALUES (1, 'before')")
    return ReplicationPlan(
        job_name="cancel",
        query_id=table,
        source=TableRef(("slow_src",)),
        destination=table,
        batch_size=100000,
    )


@pytest.mark.parametrize(
    ("src_name", "dst_name"), [("postgresql", "sqlite"), ("mysql", "postgresql"), ("sqlite", "mysql")]
)
def test_cancel_from_another_thread_stops_within_seconds(request, src_name, dst_name):
    src = get_backend(request, src_name)
    dst = get_backend(request, dst_name)
    table = f"cancel_{src_name}"
    plan = _setup(src, dst, table)
    token = CancelToken()
    threading.Timer(1.0, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(ReplicationCancelled):
        run_replication(plan, src.url, dst.url, cancel=token)
    assert time.monotonic() - started < 6
    assert dst.rows(f"SELECT id, v FROM {table}") == [(1, "before")]


def test_cancel_from_a_signal_handler_on_the_main_thread(request):
    src = get_backend(request, "postgresql")
    dst = get_backend(request, "sqlite")
    plan = _setup(src, dst, "cancel_signal")
    token = CancelToken()
    previous = signal.signal(signal.SIGALRM, lambda *_: token.cancel())
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        started = time.monotonic()
        with pytest.raises(ReplicationCancelled):
            run_replication(plan, src.url, dst.url, cancel=token)
        assert time.monotonic() - started < 6
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert dst.rows("SELECT id, v FROM cancel_signal") == [(1, "before")]


def test_a_token_cancelled_before_start_does_nothing(request):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, "sqlite")
    token = CancelToken()
    token.cancel()
    with pytest.raises(ReplicationCancelled):
        run_replication(ReplicationPlan(job_name="c", query_id="c", source=TableRef(("x",)), destination="x"),
                        src.url, dst.url, cancel=token)  # fmt: skip

"""A cancel that the orchestrator learns of during a load is honoured right before COMMIT (issue #14)."""

from __future__ import annotations

import pytest

from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from tests.unit.engine.conftest import make_plan


def _seed(src, n=50):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, name TEXT)')
    src.many('INSERT INTO "src" VALUES (?,?)', [(i, f"n{i}") for i in range(n)])


def test_guard_that_reports_cancel_stops_the_commit(src, dst):
    _seed(src)
    asked: list[int] = []
    token = CancelToken()
    token.add_commit_guard(lambda: asked.append(1) or True)
    with pytest.raises(ReplicationCancelled):
        run_replication(make_plan(), src.url, dst.url, cancel=token)
    assert asked == [1]
    # the table may exist (created before the load), but no row was committed
    tables = dst.rows("SELECT name FROM sqlite_master WHERE name = 'src'")
    assert not tables or dst.rows('SELECT COUNT(*) FROM "src"') == [(0,)]


def test_guard_that_says_no_and_a_failing_guard_let_the_load_commit(src, dst):
    _seed(src)
    token = CancelToken()
    token.add_commit_guard(lambda: False)

    def unreachable() -> bool:
        raise ConnectionError("orchestrator away")

    token.add_commit_guard(unreachable)
    summary = run_replication(make_plan(), src.url, dst.url, cancel=token)
    assert summary.rows_inserted == 50
    assert dst.rows('SELECT COUNT(*) FROM "src"') == [(50,)]


def test_commit_listeners_see_each_commit_with_its_counts(src, dst):
    _seed(src)
    seen: list[tuple[str, int]] = []
    token = CancelToken()
    token.add_commit_listener(lambda phase, summary: seen.append((phase, summary.records_affected)))
    run_replication(make_plan(), src.url, dst.url, cancel=token)
    assert seen == [("committing", 50), ("committed", 50)]

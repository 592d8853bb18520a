"""Incremental mode on SQLite: lower bounds, dedupe, windows committed one by one, state in the target."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airflow_sync.engine import hooks
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import TerminalReplicationError
from tests.unit.engine.conftest import make_plan

T0 = datetime(2024, 1, 1)


def _seed(src, n=10, check="updated_at", check_type="DATETIME", step=timedelta(days=1)):
    src.run(f'CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT, {check} {check_type})')
    src.many(
        'INSERT INTO "src" VALUES (?, ?, ?)',
        [(i, f"v{i}", (T0 + step * i).isoformat(" ")) for i in range(n)],
    )


def _state(dst):
    return dst.rows('SELECT "job", "query", "table", "watermark" FROM "_airflow_sync_state"')


def test_first_run_reads_everything_then_only_changes(src, dst):
    _seed(src)
    first = run_replication(make_plan(), src.url, dst.url)
    assert first.mode == "incremental" and first.rows_inserted == 10 and first.watermark_before is None
    # nothing seen is newer than run start - 300 s, so the watermark advances to run start - 5 minutes
    wm = datetime.fromisoformat(first.watermark_after)
    assert datetime.now() - timedelta(minutes=6) < wm <= datetime.now() - timedelta(minutes=5)
    assert _state(dst) == [("job", "q1", "src", first.watermark_after)]

    now = datetime.now().replace(microsecond=0) - timedelta(minutes=1)
    src.run("UPDATE \"src\" SET v = 'changed', updated_at = ? WHERE id = 3", (now.isoformat(" "),))
    src.run("INSERT INTO \"src\" VALUES (99, 'new', ?)", (now.isoformat(" "),))
    second = run_replication(make_plan(), src.url, dst.url)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (2, 1, 1)
    assert second.watermark_before == first.watermark_after
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')

    # the closed lower bound re-reads rows at the watermark; the key dedupe makes that a no-op
    third = run_replication(make_plan(), src.url, dst.url)
    assert third.rows_read == 2 and (third.rows_inserted, third.rows_updated) == (0, 0)


def test_replicate_start_date_limits_the_first_run(src, dst):
    _seed(src)
    summary = run_replication(make_plan(replicate_start_date=T0 + timedelta(days=7)), src.url, dst.url)
    assert summary.rows_read == 3
    assert dst.rows('SELECT id FROM "src" ORDER BY id') == [(7,), (8,), (9,)]


def test_each_window_commits_its_own_watermark_and_a_failure_resumes(src, dst, monkeypatch):
    _seed(src, 10, step=timedelta(days=100))
    plan = make_plan(replicate_start_date=T0, replicate_interval=300, replicate_interval_unit="days")
    commits = []

    def fail_in_third_window(point):
        if point == "committed":
            commits.append(1)
        if point == "staged" and len(commits) == 2:
            raise RuntimeError("window 3 fails")

    monkeypatch.setattr(hooks, "test_hook", fail_in_third_window)
    with pytest.raises(TerminalReplicationError):
        run_replication(plan, src.url, dst.url)
    assert dst.rows('SELECT id FROM "src" ORDER BY id') == [(i,) for i in range(6)]
    assert _state(dst)[0][3] == (T0 + timedelta(days=600)).isoformat()

    monkeypatch.setattr(hooks, "test_hook", None)
    summary = run_replication(plan, src.url, dst.url)
    assert summary.watermark_before == (T0 + timedelta(days=600)).isoformat()
    assert summary.rows_read == 4 and summary.windows == 2
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')


def test_integer_check_column(src, dst):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT, version INTEGER)')
    src.many('INSERT INTO "src" VALUES (?, ?, ?)', [(i, "a", i * 10) for i in range(5)])
    plan = make_plan(incremental_check_columns=("version",))
    first = run_replication(plan, src.url, dst.url)
    assert first.watermark_after == "40"
    src.run("UPDATE \"src\" SET v = 'b', version = 50 WHERE id = 1")
    second = run_replication(plan, src.url, dst.url)
    assert (second.rows_read, second.rows_updated, second.watermark_after) == (2, 1, "50")


def test_delete_detection_by_keys_on_incremental_runs(src, dst):
    _seed(src)
    run_replication(make_plan(), src.url, dst.url)
    src.run('DELETE FROM "src" WHERE id IN (2, 4)')
    assert run_replication(make_plan(), src.url, dst.url).rows_deleted == 0
    summary = run_replication(make_plan(delete_detection="keys"), src.url, dst.url)
    assert summary.rows_deleted == 2
    assert (
        run_replication(make_plan(delete_detection="keys", skip_deleted=True), src.url, dst.url).rows_deleted
        == 0
    )
    assert dst.rows('SELECT count(*) FROM "src"') == [(8,)]


def test_use_gmt_takes_naive_times_as_utc(src, dst):
    _seed(src)
    summary = run_replication(make_plan(use_gmt=True), src.url, dst.url)
    utc_now = datetime.utcnow()
    wm = datetime.fromisoformat(summary.watermark_after)
    assert utc_now - timedelta(minutes=6) < wm <= utc_now - timedelta(minutes=5)


def test_drop_or_truncate_forces_full_mode(src, dst):
    _seed(src)
    run_replication(make_plan(), src.url, dst.url)
    assert run_replication(make_plan(truncate_table=True), src.url, dst.url).mode == "full"
    summary = run_replication(make_plan(drop_table=True), src.url, dst.url)
    assert summary.mode == "full" and summary.table_created and summary.rows_inserted == 10


def test_date_check_column_includes_the_boundary_day(src, dst):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, v TEXT, modified DATE)')
    src.many('INSERT INTO "src" VALUES (?, ?, ?)', [(i, "a", f"2024-02-{i + 20:02d}") for i in range(10)])
    summary = run_replication(make_plan(replicate_start_date=datetime(2024, 2, 25)), src.url, dst.url)
    assert summary.mode == "incremental" and summary.rows_read == 5  # 25th..29th, the 25th included


def test_merge_into_a_table_without_a_key_constraint_falls_back_from_upsert(src, dst):
    # the destination exists without PRIMARY KEY/UNIQUE on id: ON CONFLICT cannot be used, the merge falls
    # back to UPDATE + INSERT and still updates changed rows instead of duplicating them
    _seed(src)
    dst.run('CREATE TABLE "src" (id INTEGER, v TEXT, updated_at DATETIME)')
    first = run_replication(make_plan(), src.url, dst.url)
    assert first.rows_inserted == 10
    now = datetime.now().replace(microsecond=0) - timedelta(minutes=1)
    src.run("UPDATE \"src\" SET v = 'changed', updated_at = ? WHERE id = 3", (now.isoformat(" "),))
    src.run("INSERT INTO \"src\" VALUES (99, 'new', ?)", (now.isoformat(" "),))
    second = run_replication(make_plan(), src.url, dst.url)
    assert (second.rows_inserted, second.rows_updated) == (1, 1)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')


def test_upsert_counts_inserted_and_updated_rows_apart(src, dst):
    _seed(src)
    run_replication(make_plan(), src.url, dst.url)
    now = datetime.now().replace(microsecond=0) - timedelta(minutes=1)
    # id 1: a new value; id 2: only its check column changed; ids 50 and 51: new rows
    src.run("UPDATE \"src\" SET v = 'changed', updated_at = ? WHERE id = 1", (now.isoformat(" "),))
    src.run('UPDATE "src" SET updated_at = ? WHERE id = 2', (now.isoformat(" "),))
    src.many(
        'INSERT INTO "src" VALUES (?, ?, ?)', [(50, "n", now.isoformat(" ")), (51, "m", now.isoformat(" "))]
    )
    summary = run_replication(make_plan(), src.url, dst.url)
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated) == (4, 2, 2)
    assert dst.rows('SELECT * FROM "src" ORDER BY id') == src.rows('SELECT * FROM "src" ORDER BY id')

"""Crash safety: SIGKILL a replication at several points, re-run, and get exactly the source rows and a
watermark consistent with the data (no lost rows, no duplicates)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.statement import TableRef
from tests.conftest import ROOT
from tests.integration.engine.conftest import get_backend

T0 = datetime(2024, 1, 1)


def _kill_at(
    tmp_path: Path,
    plan: ReplicationPlan,
    src_url: str,
    dst_url: str,
    point: str,
    nth: int,
    row_path: bool = False,
) -> None:
    """Run ``plan`` in a child process, wait until it reaches ``point`` for the ``nth`` time, SIGKILL it."""
    raw = asdict(plan)
    raw["source"] = list(plan.source.parts)
    if plan.replicate_start_date:
        raw["replicate_start_date"] = plan.replicate_start_date.isoformat()
    plan_file, marker = tmp_path / "plan.json", tmp_path / f"marker-{point}-{nth}"
    plan_file.write_text(json.dumps(raw))
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.engine.crash_child", str(plan_file), src_url, dst_url,
         point, str(nth), str(marker)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW_SYNC_TEST_ROW_PATH": "1" if row_path else ""},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, f"child exited with {child.returncode} before reaching {point}"
            assert time.monotonic() < deadline, f"child never reached {point}"
            time.sleep(0.05)
        assert marker.read_text() == point
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def _seed(src) -> None:
    src.run(
        "DROP TABLE IF EXISTS crash_src",
        "CREATE TABLE crash_src (id INTEGER PRIMARY KEY, v TEXT, updated_at DATETIME)",
    )
    src.many(
        "INSERT INTO crash_src VALUES (?, ?, ?)",
        [(i, f"v{i}", (T0 + timedelta(days=10 * i)).isoformat(" ")) for i in range(30)],
    )


def _state(dst, query_id: str):
    d = dialect_for(dst.url)
    q = d.quote_ident
    try:
        rows = dst.rows(
            f"SELECT {q('watermark')} FROM {q('_airflow_sync_state')} WHERE {q('query')} = '{query_id}'"
        )
    except Exception:
        return None
    return rows[0][0] if rows else None


# every point on SQLite; the riskiest ones on the servers (keeps the suite short). "prefilled": the
# destination already has a row, so windows go through stage + merge; otherwise straight into the table.
KILL_POINTS = [
    ("sqlite", p, n, True)
    for p, n in [("batch", 2), ("staged", 2), ("merged", 1), ("commit", 2), ("committed", 1)]
]
KILL_POINTS += [("sqlite", "batch", 2, False), ("sqlite", "commit", 2, False)]
KILL_POINTS += [
    ("postgresql", "batch", 2, True),
    ("postgresql", "staged", 2, True),
    ("postgresql", "commit", 2, True),
]
KILL_POINTS += [("mysql", "batch", 2, True), ("mysql", "commit", 2, False)]
TS_TYPE = {"sqlite": "DATETIME", "postgresql": "timestamp", "mysql": "DATETIME(6)"}


@pytest.mark.parametrize(("dst_name", "point", "nth", "prefilled"), KILL_POINTS)
def test_incremental_windows_survive_sigkill(request, tmp_path, dst_name, point, nth, prefilled):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    _seed(src)
    table = f"crash_{point}_{int(prefilled)}"
    qt = dialect_for(dst.url).quote_ident(table)
    dst.run(f"DROP TABLE IF EXISTS {qt}")
    if prefilled:
        dst.run(f"CREATE TABLE {qt} (id INTEGER PRIMARY KEY, v VARCHAR(50), updated_at {TS_TYPE[dst_name]})")
        dst.run(f"INSERT INTO {qt} VALUES (0, 'stale', NULL)")
    plan = ReplicationPlan(
        job_name="crash", query_id=f"{table}_{dst_name}", source=TableRef(("crash_src",)), destination=table,
        batch_size=4, replicate_start_date=T0, replicate_interval=100, replicate_interval_unit="days",
    )  # fmt: skip
    _kill_at(tmp_path, plan, src.url, dst.url, point, nth)

    # after the kill: the destination holds exactly the committed windows, and the watermark says which
    wm = _state(dst, plan.query_id)
    rows = dst.rows(f"SELECT id, v FROM {qt} ORDER BY id")
    committed = datetime.fromisoformat(wm) if wm else T0
    expected = [(i, f"v{i}") for i in range(30) if T0 + timedelta(days=10 * i) < committed]
    if prefilled and not expected:
        expected = [(0, "stale")]
    assert rows == expected

    summary = run_replication(plan, src.url, dst.url)
    assert summary.watermark_before == wm
    assert dst.rows(f"SELECT id, v FROM {qt} ORDER BY id") == [(i, f"v{i}") for i in range(30)]
    assert _state(dst, plan.query_id) == summary.watermark_after


@pytest.mark.parametrize("dst_name", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize(("point", "nth"), [("batch", 3)])
def test_full_reload_without_key_survives_sigkill(request, tmp_path, dst_name, point, nth):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    src.run("DROP TABLE IF EXISTS nokey_src", "CREATE TABLE nokey_src (a INTEGER, b TEXT)")
    src.many("INSERT INTO nokey_src VALUES (?, ?)", [(i, "old") for i in range(20)])
    table = f"nokey_{point}"
    dst.run(f"DROP TABLE IF EXISTS {table}")
    plan = ReplicationPlan(
        job_name="crash", query_id=table, source=TableRef(("nokey_src",)), destination=table, batch_size=3
    )
    run_replication(plan, src.url, dst.url)
    src.run("UPDATE nokey_src SET b = 'new'", "INSERT INTO nokey_src VALUES (100, 'new')")
    _kill_at(tmp_path, plan, src.url, dst.url, point, nth, row_path=True)
    assert sorted(dst.rows(f"SELECT a, b FROM {table}")) == [(i, "old") for i in range(20)]
    run_replication(plan, src.url, dst.url)
    assert sorted(dst.rows(f"SELECT a, b FROM {table}")) == sorted(src.rows("SELECT a, b FROM nokey_src"))

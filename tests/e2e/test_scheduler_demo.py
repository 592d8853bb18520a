"""``airflow-sync demo`` end to end (what ``make demo`` runs), in a temporary directory on a free port:
it must finish with the demo job successful and the warehouse counts right, a second call must reuse the
running Airflow, and ``--stop`` must leave no component running."""

from __future__ import annotations

import json

import pytest

from airflow_sync.demo import home, processes
from tests.e2e.live import run_demo

pytest.importorskip("airflow_sync.dags.factory", reason="the DAG factory has not landed yet")


def test_demo_runs_the_job_reuses_airflow_and_stops_cleanly(tmp_path):
    root, port = tmp_path / "demo", home.free_port()
    try:
        first = run_demo(root, port)
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
        out = first.stdout
        assert "of sync__demo_shop: SUCCESS" in out
        for table, rows in (("shop_Customers", 240), ("shop_Products", 60)):
            line = next(ln for ln in out.splitlines() if ln.strip().startswith(table + " "))
            assert line.split()[1] == str(rows) and line.rstrip().endswith("ok"), line
        assert "MISMATCH" not in out
        assert f"http://127.0.0.1:{port}" in out and "login: admin / " in out
        pids = json.loads((root / "demo.json").read_text())["processes"]
        assert set(pids) == {"api-server", "scheduler", "dag-processor", "triggerer"}

        again = run_demo(root, port, "--no-wait")
        assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
        assert "reusing it" in again.stdout
        assert json.loads((root / "demo.json").read_text())["processes"] == pids
    finally:
        stop = run_demo(root, port, "--stop")
    assert stop.returncode == 0, stop.stderr
    assert not (root / "demo.json").exists()
    assert not any(processes.is_our_process(pid) for pid in pids.values())
    assert run_demo(root, port, "--stop").stdout.strip() == "The demo is not running."

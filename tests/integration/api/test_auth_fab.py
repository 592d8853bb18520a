"""JWT authorization with the FAB auth manager, in a separate pytest process (auth manager is global)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def test_fab_auth_manager_in_its_own_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB
    env["AIRFLOW_SYNC_TEST_METADATA_URL"] = os.environ.get("AIRFLOW_SYNC_TEST_METADATA_URL", "")
    if not env["AIRFLOW_SYNC_TEST_METADATA_URL"]:
        del env["AIRFLOW_SYNC_TEST_METADATA_URL"]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration/api/fab_checks.py", "-q",
         "-p", "no:cacheprovider", "-rs", "-W", "ignore"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    tail = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    assert " passed" in r.stdout and "skipped" not in r.stdout.splitlines()[-1], tail

"""The engine is Airflow-free (design D12)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import airflow_sync.engine


def test_no_engine_module_imports_airflow():
    modules = [m.name for m in pkgutil.walk_packages(airflow_sync.engine.__path__, "airflow_sync.engine.")]
    assert {"airflow_sync.engine.replicate", "airflow_sync.engine.dialects.postgres"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

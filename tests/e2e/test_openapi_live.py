"""The OpenAPI document is the contract: schemathesis (pinned in pyproject) runs every check it has against a
LIVE ``airflow api-server`` with the plugin, from the document the server itself serves at
``/api.rsc/openapi.json``, and the run must find nothing.

What "nothing" covers: no 5xx; every status, content type, header (``Allow`` on 405, ``WWW-Authenticate`` on
401) and body as documented; every schema-valid request accepted and every schema-invalid one refused; no
route reachable without (or with wrong) credentials; unmatched paths and methods answered in the envelope.
The one allowance is in ``schemathesis_hooks.py``: a schema-valid request may get a 400 only for a field the
server validates beyond any JSON Schema (a connection that does not exist, a REPLICATE or cron that does not
parse, an OData filter), and a custom check fails the run when a 400 names any other field.

Bounded for CI: a fixed seed and a fixed number of examples per operation (about 2-3 minutes here).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from airflow_sync.demo import home, processes
from tests.conftest import ROOT
from tests.e2e.live import live_airflow

#: routers whose owners are still aligning them with the contract (failures reported in coord/NOTES.md);
#: empty: every route of the document is held to zero failures.
PENDING_TAGS: tuple[str, ...] = ()
SEED = 20261207
MAX_EXAMPLES = 20
CONFIG = """
[checks.positive_data_acceptance]
# 400 is allowed for schema-valid requests only as the hooks' custom check permits (semantic validation)
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    def sources(root):
        src, dst = root / "source.db", root / "warehouse.db"
        with sqlite3.connect(src) as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        sqlite3.connect(dst).close()
        return {
            "st_src": {"conn_type": "sqlite", "host": str(src)},
            "st_dst": {"conn_type": "sqlite", "host": str(dst)},
        }

    with live_airflow(tmp_path_factory, "openapi", connections=sources, components=("api-server",)) as air:
        created = air.cli("airflow-sync", "tokens", "create", "--name", "schemathesis", "--role", "admin")
        assert created.returncode == 0, created.stderr[-3000:]
        token = created.stdout.strip().splitlines()[-1]
        processes.wait_for(
            "the api-server",
            lambda: processes.http_ok(f"{air.base}/api/v2/monitor/health"),
            timeout=240,
            procs=air.procs,
        )
        yield air, token


def test_schemathesis_finds_nothing(api, tmp_path):
    air, token = api
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    st = home.bin_dir() / "st"
    command = [
        str(st), "--config-file", str(config), "run", f"{air.base}/api.rsc/openapi.json",
        "--url", f"{air.base}/api.rsc",
        "-H", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES),
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
        *[arg for tag in PENDING_TAGS for arg in ("--exclude-tag", tag)],
    ]  # fmt: skip
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False
    )
    output = result.stdout + result.stderr
    summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    print(summary, file=sys.stderr)
    assert result.returncode == 0, output[-20000:]
    generated = re.search(r"(\d+) generated", summary)
    assert generated and int(generated.group(1)) > 500, summary  # the run really exercised the API
    assert re.search(r"\b0 failures\b|No issues found", summary) or "failure" not in summary.lower(), summary

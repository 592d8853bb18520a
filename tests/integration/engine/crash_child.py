"""Run one replication in a child process and freeze at a hook point so the parent can SIGKILL it.

Usage: python -m tests.integration.engine.crash_child PLAN_JSON SOURCE_URL DEST_URL POINT NTH MARKER
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from airflow_sync.engine import hooks
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.statement import TableRef


def main() -> None:
    plan_file, src, dst, point, nth, marker = sys.argv[1:7]
    raw = json.loads(Path(plan_file).read_text())
    raw["source"] = TableRef(tuple(raw["source"]))
    if raw.get("replicate_start_date"):
        raw["replicate_start_date"] = datetime.fromisoformat(raw["replicate_start_date"])
    plan = ReplicationPlan(**raw)
    seen = 0

    def freeze(p: str) -> None:
        nonlocal seen
        if p == point:
            seen += 1
            if seen == int(nth):
                _say(marker, p)
                while True:
                    time.sleep(1)

    hooks.test_hook = freeze
    if os.environ.get("AIRFLOW_SYNC_TEST_ROW_PATH"):
        hooks.IN_ENGINE_COPY = False
        hooks.ARROW = False
    run_replication(plan, src, dst)
    _say(marker, "finished")


def _say(marker: str, what: str) -> None:
    """Write the marker whole or not at all: the parent polls for it and reads it at once."""
    Path(marker + ".tmp").write_text(what)
    os.replace(marker + ".tmp", marker)


if __name__ == "__main__":
    main()

"""Run one contender in a fresh subprocess and collect its time, peak RSS and outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.worker import MARKER

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One measured run. ``status`` is ``ok`` only when the run succeeded *and* its result verified."""

    pair: str
    contender: str
    phase: str  # full | incremental | memory
    rows: int
    status: str = "ok"
    seconds: float | None = None
    peak_rss_mb: float | None = None
    error: str = ""
    mode: str = ""
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    summary: dict[str, Any] | None = None
    extrapolated_from: int | None = None
    #: the time of a run that finished but whose result did not verify (shown, never counted as ok)
    unverified_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def rows_per_s(self) -> float | None:
        if not self.ok or not self.seconds:
            return None
        return self.rows / self.seconds

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows_per_s"] = self.rows_per_s
        return d


#: the virtualenv of the peers that must not share the project's (dlt, sling): made by ``make bench``
PEERS_PYTHON = REPO / ".venv-peers" / "bin" / "python"
PEER_CONTENDERS = ("sling", "dlt_connectorx", "dlt_default")


def run_worker(
    spec: dict[str, Any], env_extra: dict[str, str], timeout: float, log_dir: Path
) -> dict[str, Any]:
    """Start ``python -m bench.worker`` with ``spec``; return its result dict (``ok`` False on any failure).

    The worker reports its peak RSS (``ru_maxrss`` of itself plus its largest child; the psql pipe sums its
    two psql processes). Its output goes to a log file under ``log_dir`` for post-mortems.
    """
    env = {**os.environ, **env_extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    name = f"{spec['query_id']}_{spec['contender']}_{spec['phase']}"
    log_path = log_dir / f"{name}.log"
    python = str(PEERS_PYTHON) if spec["contender"] in PEER_CONTENDERS else sys.executable
    if not os.path.exists(python):
        return {"ok": False, "error": f"{python} is missing: run `make bench` (it creates .venv-peers)"}
    t0 = time.perf_counter()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [python, "-m", "bench.worker", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=out,
            cwd=REPO,
            env=env,
            text=True,
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {"ok": False, "error": f"timed out after {timeout:.0f}s", "wall_seconds": timeout}
        out.write(stdout)
    wall = time.perf_counter() - t0
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        return {
            "ok": False,
            "error": f"worker exited {proc.returncode} without a result (see {log_path})",
            "wall_seconds": wall,
        }
    result: dict[str, Any] = json.loads(line[len(MARKER) :])
    result["wall_seconds"] = wall
    if not result.get("ok"):
        result["error"] = f"{result.get('error')} (log: {log_path})"
    return result

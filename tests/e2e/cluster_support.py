"""Helpers for the end-to-end tests of the distributed deployment (``scripts/cluster.py``).

:func:`start_cluster` runs ``scripts/cluster.py start`` as a subprocess with its own state directory, metadata
database and ports, so a test cluster never collides with a developer's ``make cluster``; :class:`Api` is a
minimal client of the Job Management API (``/api.rsc``) with the cluster's admin token.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.py"
HOSTS = {"127.0.0.1": "worker-1", "127.0.0.2": "worker-2"}  # worker host names given by cluster.py


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(api_servers: int, workers: int) -> int:
    """A base port P such that every port cluster.py derives from it (P.., P+100.., P+120) is free."""
    for _ in range(200):
        base = random.randrange(30000, 45000, 10)
        ports = (
            [base + i for i in range(api_servers)] + [base + 100 + i for i in range(workers)] + [base + 120]
        )
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range for the test cluster")


class Api:
    """The Job Management API of one api-server, authenticated with an API token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, headers={"x-cdata-authtoken": token}, timeout=60)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body)

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, f"{response.request.method} {response.request.url}: " + (
            f"{response.status_code} {response.text[:2000]}"
        )
        return response.json()

    def job_status(self, job_name: str) -> dict[str, Any]:
        """getJobStatus of one job: ``{"Status": job-level status, "Queries": {Query text: row}, ...}``."""
        body = self.ok(self.post("/getJobStatus", {"JobName": job_name}))
        rows = body["value"]
        job_row = next(r for r in rows if r.get("Query") in (None, ""))
        return {"Status": job_row["Status"], "job": job_row, "queries": [r for r in rows if r.get("Query")]}

    def logs(self, job_name: str, days: int = 1) -> list[dict[str, Any]]:
        """getLogs rows with ``Content`` decoded."""
        rows = self.ok(self.post("/getLogs", {"JobName": job_name, "Days": days}))["value"]
        return [dict(r, Content=base64.b64decode(r["Content"]).decode("utf-8", "replace")) for r in rows]

    def close(self) -> None:
        self.client.close()


@dataclass
class Cluster:
    """A running cluster started by :func:`start_cluster`."""

    state: Path
    port: int
    api_servers: int
    db: str
    env: dict[str, str]
    token: str = ""
    apis: list[Api] = field(default_factory=list)

    def api(self, index: int) -> Api:
        """The API of api-server ``index`` (0-based)."""
        return self.apis[index]

    def script(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill(self, component: str) -> None:
        """SIGKILL a component with every process it started (a lost worker machine)."""
        out = self.script("kill", component)
        assert out.returncode == 0, out.stderr

    def revive(self, component: str) -> None:
        """Start a killed component again (a replaced machine) and wait until it is ready."""
        out = self.script("revive", component, timeout=240)
        assert out.returncode == 0, out.stderr[-3000:]

    def status(self) -> dict[str, bool]:
        out = self.script("status")
        return {
            line.split()[0]: line.split()[1] == "running" for line in out.stdout.splitlines() if line.strip()
        }

    def log(self, component: str) -> str:
        try:
            return (self.state / "logs" / f"{component}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def dump_logs(self, lines: int = 60) -> None:
        """Print the tail of every component's log (pytest shows it when a test fails)."""
        for path in sorted((self.state / "logs").glob("*.log")):
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            print(f"\n===== {path.name} (last {lines} lines) =====\n{tail}")

    @contextlib.contextmanager
    def logs_on_failure(self) -> Iterator[None]:
        """Print every component's log tail when the block fails."""
        try:
            yield
        except BaseException:
            self.dump_logs()
            raise

    def stop(self) -> None:
        for api in self.apis:
            api.close()
        out = self.script("stop", "--drop-db", "--grace", "5", timeout=90)
        print(out.stderr)
        if out.returncode != 0:
            print(out.stdout, out.stderr)


def start_cluster(
    state: Path,
    *,
    db: str,
    api_servers: int = 2,
    workers: int = 2,
    heartbeat_timeout: int = 20,
    extra_env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Cluster:
    """Start a cluster in ``state`` (its own DB, ports and state dir) and wait until every component is up.

    :param extra_env: added to every component's environment (e.g. ``AIRFLOW_CONN_*`` connections)
    :raises AssertionError: start-up failed (the component logs are printed)
    """
    port = free_base_port(api_servers, workers)
    env = dict(os.environ, AIRFLOW_SYNC_CLUSTER_DIR=str(state), **(extra_env or {}))
    # The test process's own Airflow settings (conftest) must not leak into the cluster's components.
    for key in list(env):
        if key.startswith("AIRFLOW__") or key == "AIRFLOW_HOME":
            del env[key]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cluster = Cluster(state=state, port=port, api_servers=api_servers, db=db, env=env)
    out = cluster.script(
        "start",
        "--fresh",
        "--api-servers",
        str(api_servers),
        "--workers",
        str(workers),
        "--port",
        str(port),
        "--db",
        db,
        "--heartbeat-timeout",
        str(heartbeat_timeout),
        "--timeout",
        str(timeout - 60),
        timeout=timeout,
    )
    print(out.stdout, out.stderr)
    if out.returncode != 0:
        cluster.stop()
        raise AssertionError(f"cluster did not start (exit {out.returncode}): {out.stderr[-3000:]}")
    cluster.token = (state / "admin.token").read_text().strip()
    cluster.apis = [Api(f"http://127.0.0.1:{port + i}/api.rsc", cluster.token) for i in range(api_servers)]
    return cluster


def wait_for(what: str, check: Callable[[], Any], *, timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; its last value is in the timeout message."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)

"""A live Airflow for end-to-end tests: a fresh PostgreSQL metadata DB, a migrated home, and the api-server,
scheduler and dag-processor running as processes of their own."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_sync.demo import home, processes
from tests import services
from tests.conftest import ROOT, RUN_ID

#: a source view whose copy takes hours unless cancelled (``big`` cross joined with itself): a run that is
#: surely still loading when the test cancels it, however fast the engine gets
ENDLESS = (
    "CREATE VIEW endless AS SELECT a.id * 100000 + b.id AS id, b.payload AS payload"
    " FROM big a CROSS JOIN big b"
)


@dataclass
class LiveAirflow:
    root: Path
    env: dict[str, str]
    port: int
    url: str
    keys: dict[str, str]
    engine: Any
    procs: list[Any] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` or ``airflow-sync`` command line in this home."""
        exe = str(home.bin_dir() / args[0])
        return subprocess.run(
            [exe, *args[1:]], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )


@contextlib.contextmanager
def live_airflow(
    tmp_path_factory: Any,
    name: str,
    *,
    connections: Callable[[Path], dict[str, dict[str, Any]]],
    extra: dict[str, dict[str, str]] | None = None,
    components: tuple[str, ...] = ("api-server", "scheduler", "dag-processor"),
) -> Iterator[LiveAirflow]:
    """Set up, migrate and start a live Airflow; stop it and drop its metadata DB afterwards.

    :param name: names the metadata database and the temporary folder
    :param connections: called with the temporary folder (to create source files there); returns the
        Airflow connections by id, passed to every component as ``AIRFLOW_CONN_<ID>`` variables
    :param extra: more ``airflow.cfg`` sections (``[airflow_sync] strict_mode`` is always on)
    :param components: which Airflow components to start (the api-server alone serves the API)
    """
    db_name = f"as_{name}_{RUN_ID}"
    url = services.create_pg_database(db_name).replace("postgresql+psycopg://", "postgresql+psycopg2://")
    root = tmp_path_factory.mktemp(name)
    airflow_home = root / "airflow"
    keys = home.ensure_secrets(airflow_home)
    port = home.free_port()
    sections = {"airflow_sync": {"strict_mode": "True"}, **(extra or {})}
    home.write_airflow_cfg(
        airflow_home, sql_alchemy_conn=url, dags_folder=ROOT / "dags", port=port, keys=keys, extra=sections
    )
    env = home.airflow_env(airflow_home)
    # connections through the secrets chain, visible to every component and task process
    for conn_id, conn in connections(root).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    from sqlalchemy import create_engine

    live = LiveAirflow(root, env, port, url, keys, create_engine(url))
    try:
        t0 = time.monotonic()
        migrate = live.cli("airflow", "db", "migrate", timeout=300)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        print(f"\nairflow db migrate (PostgreSQL): {time.monotonic() - t0:.1f} s")
        airflow, logs = str(home.bin_dir() / "airflow"), root / "logs"
        commands = {
            "api-server": [
                airflow,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            "scheduler": [airflow, "scheduler"],
            "dag-processor": [airflow, "dag-processor"],
        }
        live.procs += [
            processes.start(name, commands[name], env=env, log=logs / f"{name}.log") for name in components
        ]
        yield live
    finally:
        processes.stop_all(live.procs)
        live.engine.dispose()
        services.drop_pg_database(db_name)


def run_demo(root: Path, port: int, *extra: str) -> subprocess.CompletedProcess:
    """``airflow-sync demo --dir ROOT --port PORT ...`` (what ``make demo`` runs), as from a plain shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return subprocess.run(
        [str(home.bin_dir() / "airflow-sync"), "demo", "--dir", str(root), "--port", str(port), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

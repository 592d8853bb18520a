"""Run the distributed topology of docker-compose.yml without Docker: every component its own process.

PostgreSQL metadata DB (a fresh database), Redis broker, CeleryExecutor, two Celery workers, a scheduler, a
dag-processor, a triggerer and one or more api-servers on loopback ports — the same services and settings as
``docker-compose.yml``, started as separate processes on this machine.

    python scripts/cluster.py start [--api-servers N] [--port 28080] [--fresh]
    python scripts/cluster.py stop
    python scripts/cluster.py env        # prints the environment (export lines) to talk to the cluster

State lives in ``.cluster/`` (Airflow home, logs, pid files, the generated secrets and the admin API token).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("AIRFLOW_SYNC_CLUSTER_DIR", ROOT / ".cluster"))
PG = os.environ.get("AIRFLOW_SYNC_PG", "postgres@127.0.0.1:5432")
REDIS = os.environ.get("AIRFLOW_SYNC_REDIS", "redis://127.0.0.1:6379/5")


def _secrets() -> dict[str, str]:
    path = STATE / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data = {
        "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "secret_key": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(12),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def cluster_env(db_name: str, port: int) -> dict[str, str]:
    """The environment every component shares (the compose file's x-airflow-common block)."""
    s = _secrets()
    home = STATE / "airflow"
    metadata = f"postgresql+psycopg2://{PG}/{db_name}"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__FERNET_KEY": s["fernet_key"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": REDIS,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG}/{db_name}",
            "AIRFLOW__API__SECRET_KEY": s["secret_key"],
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": s["jwt_secret"],
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            "AIRFLOW_SYNC_CLUSTER_PORT": str(port),
        }
    )
    return env


def _pidfile(name: str) -> Path:
    return STATE / "pids" / f"{name}.pid"


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> int:
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    (STATE / "pids").mkdir(parents=True, exist_ok=True)
    log = open(STATE / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pidfile(name).write_text(str(proc.pid))
    return proc.pid


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.2
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(delay)
        delay = min(delay * 1.5, 2)
    raise SystemExit(f"timed out waiting for {url}; see logs in {STATE / 'logs'}")


def _create_database(db_name: str) -> None:
    import psycopg

    user, _, hostport = PG.partition("@")
    host, _, port = hostport.partition(":")
    with psycopg.connect(host=host, port=int(port or 5432), user=user, dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{db_name}"')


def start(api_servers: int, port: int, db_name: str, fresh: bool, workers: int) -> None:
    if fresh and STATE.exists():
        stop()
        shutil.rmtree(STATE)
    env = cluster_env(db_name, port)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({"admin": _secrets()["admin_password"]}))
    _create_database(db_name)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run(
        [str(Path(sys.executable).parent / "airflow-sync"), "tokens", "create", "--name", "cluster-admin",
         "--role", "admin"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    (STATE / "admin.token").write_text(token)
    (STATE / "admin.token").chmod(0o600)
    for i in range(api_servers):
        _spawn(f"api-server-{i + 1}", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port + i)],
               env)
    _spawn("scheduler", [airflow, "scheduler"], env)
    _spawn("dag-processor", [airflow, "dag-processor"], env)
    _spawn("triggerer", [airflow, "triggerer"], env)
    for i in range(workers):
        wenv = dict(env, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(8793 + i))
        _spawn(f"worker-{i + 1}", [airflow, "celery", "worker", "--concurrency", "2",
                                   "--celery-hostname", f"worker{i + 1}@%h"], wenv)
    for i in range(api_servers):
        _wait_http(f"http://127.0.0.1:{port + i}/api/v2/monitor/health", 120)
    (STATE / "cluster.json").write_text(json.dumps({"port": port, "api_servers": api_servers, "db": db_name,
                                                   "workers": workers}))
    print(f"cluster up: api-server(s) on 127.0.0.1:{port}..{port + api_servers - 1}, {workers} Celery workers")
    print(f"Job API:  http://127.0.0.1:{port}/api.rsc/jobs  (header x-cdata-authtoken: $(cat {STATE}/admin.token))")
    print(f"UI login: admin / {_secrets()['admin_password']}")


def stop() -> None:
    pids = sorted((STATE / "pids").glob("*.pid")) if (STATE / "pids").exists() else []
    for pidfile in pids:
        pid = int(pidfile.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20
    for pidfile in pids:
        pid = int(pidfile.read_text())
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pidfile.unlink(missing_ok=True)
    print("cluster stopped")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--api-servers", type=int, default=1)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--port", type=int, default=28080)
    s.add_argument("--db", default="airflow_sync_cluster")
    s.add_argument("--fresh", action="store_true", help="wipe .cluster/ first")
    sub.add_parser("stop")
    sub.add_parser("env")
    a = p.parse_args(argv)
    if a.cmd == "start":
        start(a.api_servers, a.port, a.db, a.fresh, a.workers)
    elif a.cmd == "stop":
        stop()
    else:
        info = json.loads((STATE / "cluster.json").read_text())
        env = cluster_env(info["db"], info["port"])
        for k in sorted(env):
            if k.startswith(("AIRFLOW__", "AIRFLOW_HOME")):
                print(f"export {k}={json.dumps(env[k])}")


if __name__ == "__main__":
    main()

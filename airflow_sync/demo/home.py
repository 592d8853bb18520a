"""A self-contained Airflow home: ``airflow.cfg``, secrets, the admin password, the environment.

Used by the demo (``.demo/airflow``, SQLite) and by the end-to-end test (a temp home, PostgreSQL). The
whole ``airflow.cfg`` is written by us, so no setting leaks in from the user's shell: every process is
started with an environment from :func:`airflow_env`, which drops inherited ``AIRFLOW__*`` variables.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

ADMIN_USER = "admin"


def find_project_root() -> Path:
    """The project checkout: the directory holding ``pyproject.toml`` and ``dags/`` next to the package
    (editable install, fresh clone), else the current directory."""
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").is_file() and (here / "dags").is_dir():
        return here
    return Path.cwd()


def find_dags_folder(root: Path | None = None) -> Path:
    """The folder holding the airflow_sync DAG shim (``dags/airflow_sync_jobs.py``).

    :param root: project root (default: :func:`find_project_root`)
    :raises FileNotFoundError: no shim found, with where it was looked for
    """
    candidates = [(root or find_project_root()) / "dags", Path.cwd() / "dags"]
    for folder in candidates:
        if any(folder.glob("*.py")) if folder.is_dir() else False:
            return folder.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"the airflow_sync DAG shim folder was not found (looked in {looked})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``.

    :param port: TCP port
    :param host: address to probe
    """
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ensure_secrets(home: Path) -> dict[str, str]:
    """Keys shared by every component (and the admin password), generated once and kept in the home.

    The api-server and the task processes must agree on ``jwt_secret``, or tasks cannot talk to the
    execution API; generating them per process is the classic "403 in every task" failure.

    :param home: the Airflow home
    """
    path = home / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    data = {
        "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "secret_key": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
        "admin_password": secrets.token_urlsafe(9),
    }
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return data


def write_airflow_cfg(
    home: Path,
    *,
    sql_alchemy_conn: str,
    dags_folder: Path,
    port: int,
    keys: Mapping[str, str],
    parallelism: int = 4,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``<home>/airflow.cfg`` (LocalExecutor, no examples, SimpleAuthManager, loopback api-server).

    :param home: the Airflow home (created if missing)
    :param sql_alchemy_conn: metadata DB URL
    :param dags_folder: folder with the airflow_sync shim
    :param port: api-server port on 127.0.0.1 (also the execution API the task processes call)
    :param keys: from :func:`ensure_secrets`
    :param parallelism: LocalExecutor task slots (small: the demo machine may have 2 cores)
    :param extra: more ``{section: {option: value}}`` settings, overriding the defaults here
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN_USER: keys["admin_password"]}))
    passwords.chmod(0o600)
    base_url = f"http://127.0.0.1:{port}"
    sections: dict[str, dict[str, str]] = {
        "core": {
            "dags_folder": str(dags_folder),
            "executor": "LocalExecutor",
            "parallelism": str(parallelism),
            "load_examples": "False",
            "fernet_key": keys["fernet_key"],
            "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "simple_auth_manager_users": f"{ADMIN_USER}:admin",
            "simple_auth_manager_passwords_file": str(passwords),
            "execution_api_server_url": f"{base_url}/execution/",
            "dags_are_paused_at_creation": "False",
            # Airflow skips writing a re-parsed DAG for 30 s after its last write (default), so a job
            # edited twice within 30 s would reach its DAG only with a later periodic parse; the DAG hash
            # is still compared, so 0 costs a write only when the DAG really changed.
            "min_serialized_dag_update_interval": "0",
        },
        "database": {"sql_alchemy_conn": sql_alchemy_conn},
        "api": {
            "base_url": base_url,
            "host": "127.0.0.1",
            "port": str(port),
            "workers": "1",
            "secret_key": keys["secret_key"],
        },
        "api_auth": {"jwt_secret": keys["jwt_secret"]},
        "logging": {
            "base_log_folder": str(home / "logs"),
            # the defaults (8793/8794) collide with any other Airflow on this machine
            "worker_log_server_port": str(free_port()),
            "trigger_log_server_port": str(free_port()),
        },
        "scheduler": {"scheduler_heartbeat_sec": "2"},
        "dag_processor": {"refresh_interval": "30"},
    }
    for section, options in (extra or {}).items():
        sections.setdefault(section, {}).update(options)
    lines = ["# Written by airflow-sync; regenerated on every start. Secrets: secrets.json next to it."]
    for section, options in sections.items():
        lines.append(f"\n[{section}]")
        lines += [f"{k} = {v}" for k, v in options.items()]
    path = home / "airflow.cfg"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def bin_dir() -> Path:
    """The directory of this Python's console scripts (``airflow``, ``airflow-sync``)."""
    return Path(sys.executable).parent


def airflow_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for processes of this Airflow home.

    Inherited ``AIRFLOW__*`` / ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` variables are dropped (they would
    override the home's ``airflow.cfg``) and the venv's bin is put first on ``PATH`` (Airflow starts
    sub-commands as a bare ``airflow``).

    :param home: the Airflow home
    :param base: starting environment (default: ``os.environ``)
    """
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k not in ("AIRFLOW_CONFIG",)
    }
    env["AIRFLOW_HOME"] = str(home)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env

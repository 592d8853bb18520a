"""Static checks of docker-compose.yml (no Docker engine runs here): it parses, every service it depends on
exists, every image is either built here or pinned, and every `airflow` / `airflow-sync` command line in it is
accepted by the real CLI parsers (flags included) — so a typo in the compose file fails CI, not a deploy."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _command_lines() -> list[list[str]]:
    lines: list[list[str]] = []
    for svc in SERVICES.values():
        cmd = svc.get("command")
        if not cmd:
            continue
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        if svc.get("entrypoint") == "/bin/bash" and cmd[0] == "-c":
            for part in cmd[1].replace("\n", " ").split("&&"):
                part = part.split("||")[0].strip()
                if part:
                    lines.append(shlex.split(part))
        else:
            lines.append(list(cmd))
    return [line for line in lines if line[0] in {"airflow", "airflow-sync"}]


def test_every_dependency_names_a_service():
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        for dep in deps:
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"


def test_every_service_has_an_image_or_build():
    for name, svc in SERVICES.items():
        assert svc.get("image") or svc.get("build"), name


def test_topology_matches_the_distributed_deployment():
    commands = {" ".join(c[:3]) for c in _command_lines()}
    for needed in (
        "airflow api-server --host",
        "airflow scheduler",
        "airflow dag-processor",
        "airflow triggerer",
        "airflow celery worker",
        "airflow db migrate",
    ):
        assert any(c.startswith(needed) for c in commands), needed
    assert SERVICES["airflow-worker"]["deploy"]["replicas"] >= 2
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for shared in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert all(
            SERVICES[s]["environment"][shared] == env[shared] for s in SERVICES if s.startswith("airflow")
        )


_CHECK = r"""
import json, sys
from airflow.cli.cli_parser import get_parser
bad = []
for argv in json.loads(sys.argv[1]):
    try:
        get_parser().parse_args(argv)
    except SystemExit as e:
        bad.append([argv, e.code])
print(json.dumps(bad))
"""


@pytest.mark.timeout(180)
def test_airflow_command_lines_are_accepted_by_the_cli():
    airflow_lines = [c[1:] for c in _command_lines() if c[0] == "airflow"]
    env = dict(
        os.environ,
        AIRFLOW__CORE__AUTH_MANAGER=SERVICES["airflow-init"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"],
    )
    out = subprocess.run(
        [sys.executable, "-c", _CHECK, json.dumps(airflow_lines)],
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_airflow_sync_command_lines_are_accepted_by_its_cli():
    from airflow_sync.cli import build_parser

    for line in (c for c in _command_lines() if c[0] == "airflow-sync"):
        build_parser().parse_args(line[1:])


# --- the image, the variables and the no-Docker twin (scripts/cluster.py) ---

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _airflow_settings(env: dict[str, str]) -> list[tuple[str, str]]:
    return [
        tuple(key[len("AIRFLOW__") :].lower().split("__", 1))  # type: ignore[misc]
        for key in env
        if key.startswith("AIRFLOW__")
    ]


def _load_cluster_script(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("AIRFLOW_SYNC_CLUSTER_DIR", str(tmp_path))  # the module reads it at import
    spec = importlib.util.spec_from_file_location("cluster_script", ROOT / "scripts" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerfile_copies_only_files_that_exist():
    copies = [line.split()[1:] for line in DOCKERFILE.splitlines() if line.startswith("COPY")]
    assert copies
    for args in copies:
        sources = [a for a in args[:-1] if not a.startswith("--")]
        for src in sources:
            assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repository"


def test_dockerfile_installs_extras_the_project_defines():
    import re
    import tomllib

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    wanted = re.search(r"/opt/airflow_sync\[([^\]]+)\]", DOCKERFILE)
    assert wanted, "the image must install airflow_sync from the copied sources"
    assert set(wanted.group(1).split(",")) <= extras
    assert "celery" in wanted.group(1).split(",")  # the CeleryExecutor needs the provider in every image


def test_compose_variables_all_have_defaults():
    """`docker compose up` works without an .env file: every ${VAR} has a :-default."""
    import re

    text = (ROOT / "docker-compose.yml").read_text()
    refs = re.findall(r"\$\{([^}]*)\}", text)
    assert refs, "the shared secrets are meant to be overridable"
    assert all(":-" in ref for ref in refs), [r for r in refs if ":-" not in r]


def test_volumes_are_declared_or_files_in_the_repository():
    declared = set(COMPOSE.get("volumes") or {})
    for name, svc in SERVICES.items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith((".", "/")):
                assert (ROOT / src).exists(), f"{name} mounts {src}, which is not in the repository"
            else:
                assert src in declared, f"{name} uses undeclared volume {src}"


def test_airflow_settings_name_real_options(tmp_path, monkeypatch):
    """Every AIRFLOW__SECTION__KEY of the compose file and of scripts/cluster.py is an option Airflow (or an
    installed provider) defines: a misspelt setting is silently ignored at run time."""
    from airflow.configuration import conf

    described = conf.configuration_description
    cluster = _load_cluster_script(tmp_path, monkeypatch)
    envs = {
        "docker-compose.yml": SERVICES["airflow-scheduler"]["environment"],
        "cluster.py": cluster.cluster_env("db", 28080),
        "cluster.py worker": cluster.worker_env(cluster.cluster_env("db", 28080), 1, 28080),
    }
    for where, env in envs.items():
        for section, key in _airflow_settings(env):
            if section == "celery_broker_transport_options":
                continue  # free-form: every key is handed to kombu's transport as is
            assert key in described.get(section, {}).get("options", {}), f"{where}: [{section}] {key}"


def test_cluster_script_runs_the_compose_topology(tmp_path, monkeypatch):
    """scripts/cluster.py is the compose file without Docker: same executor, same settings shared by every
    component, distinct log-server ports and host names per worker."""
    cluster = _load_cluster_script(tmp_path, monkeypatch)
    env = cluster.cluster_env("db", 28080)
    compose_env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == compose_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    shared = {k for k in compose_env if k.startswith("AIRFLOW__")} - {
        "AIRFLOW__CORE__AUTH_MANAGER"  # FAB in compose; the script keeps the simple auth manager (dev only)
    }
    assert shared <= set(env), shared - set(env)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:28080/execution/"
    # the generated secrets persist: a restart (or a second api-server) gets the same ones
    assert (
        cluster.cluster_env("db", 28080)["AIRFLOW__API_AUTH__JWT_SECRET"]
        == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    )
    workers = [cluster.worker_env(env, i, 28080) for i in range(2)]
    ports = {w["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] for w in workers}
    hosts = {w["AIRFLOW_SYNC_CLUSTER_HOSTNAME"] for w in workers}
    assert len(ports) == len(hosts) == 2
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] not in ports
    assert (
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
        == workers[0]["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
    )

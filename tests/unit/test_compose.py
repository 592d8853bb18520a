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
    for needed in ("airflow api-server --host", "airflow scheduler", "airflow dag-processor",
                   "airflow triggerer", "airflow celery worker", "airflow db migrate"):
        assert any(c.startswith(needed) for c in commands), needed
    assert SERVICES["airflow-worker"]["deploy"]["replicas"] >= 2
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for shared in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert all(SERVICES[s]["environment"][shared] == env[shared] for s in SERVICES if s.startswith("airflow"))


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
    env = dict(os.environ, AIRFLOW__CORE__AUTH_MANAGER=SERVICES["airflow-init"]["environment"][
        "AIRFLOW__CORE__AUTH_MANAGER"])
    out = subprocess.run([sys.executable, "-c", _CHECK, json.dumps(airflow_lines)], env=env,
                         capture_output=True, text=True, timeout=170)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_airflow_sync_command_lines_are_accepted_by_its_cli():
    from airflow_sync.cli import build_parser

    for line in (c for c in _command_lines() if c[0] == "airflow-sync"):
        build_parser().parse_args(line[1:])

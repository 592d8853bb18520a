"""``airflow-sync tokens …`` against a real metadata DB: the secret alone on stdout, usable, revocable."""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_sync.cli import main

tokens = pytest.importorskip("airflow_sync.api.tokens", reason="API tokens have not landed yet")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_prints_only_the_secret_which_then_verifies(airflow_db, capsys):
    name = f"ci_{uuid.uuid4().hex[:6]}"
    code, out, err = cli(capsys, "tokens", "create", "--name", name, "--role", "job_creator")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].strip() == lines[0] and len(lines[0]) >= 20
    assert "shown only once" in err and name in err
    record = tokens.verify_token(lines[0])
    assert record is not None and record.name == name and record.role == "job_creator"

    code, out, _ = cli(capsys, "tokens", "list")
    (row,) = [r for r in out.splitlines() if r.split()[0] == name]
    assert row.split()[1] == "job_creator" and row.split()[-1] == "no"
    assert lines[0] not in out

    code, out, _ = cli(capsys, "tokens", "list", "--json")
    (entry,) = [e for e in json.loads(out) if e["name"] == name]
    assert entry["role"] == "job_creator" and not entry["revoked"]

    code, out, err = cli(capsys, "tokens", "revoke", name)
    assert code == 0 and out == "" and "revoked" in err
    assert tokens.verify_token(lines[0]) is None


def test_duplicate_and_unknown_names_fail_with_a_message(airflow_db, capsys):
    name = f"dup_{uuid.uuid4().hex[:6]}"
    assert cli(capsys, "tokens", "create", "--name", name, "--role", "viewer")[0] == 0
    code, out, err = cli(capsys, "tokens", "create", "--name", name, "--role", "viewer")
    assert code == 1 and out == "" and "already exists" in err and "Traceback" not in err
    code, out, err = cli(capsys, "tokens", "revoke", "no_such_token_xyz")
    assert code == 1 and out == "" and "no_such_token_xyz" in err

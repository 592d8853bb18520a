"""airflow-sync CLI without Airflow: argument parsing, exit codes, job files, tables, demo data and home."""

from __future__ import annotations

import configparser
import hashlib
import json
import sqlite3

import pytest

from airflow_sync.cli import build_parser, main
from airflow_sync.cli.files import load_files, parse_text
from airflow_sync.cli.output import format_table

JOB = {"JobName": "crm", "Source": "src", "Destination": "dst", "Query#1": "REPLICATE [Customers]"}


# ------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["jobs", "apply", "a.json", "b.json"], "cmd_apply"),
        (["jobs", "list", "--json"], "cmd_list"),
        (["jobs", "export"], "cmd_export"),
        (["jobs", "export", "crm", "-o", "x.json"], "cmd_export"),
        (["jobs", "delete", "crm"], "cmd_delete"),
        (["tokens", "create", "--name", "ci", "--role", "viewer"], "cmd_create"),
        (["tokens", "list"], "cmd_list"),
        (["tokens", "revoke", "ci"], "cmd_revoke"),
        (["demo", "--stop"], "cmd_demo"),
        (["demo", "--port", "9090", "--no-wait"], "cmd_demo"),
    ],
)
def test_each_command_reaches_its_handler(argv, handler):
    args = build_parser().parse_args(argv)
    assert args.handler.__name__ == handler


def test_parsed_values():
    args = build_parser().parse_args(["jobs", "apply", "a.json", "-", "--dry-run"])
    assert args.files == ["a.json", "-"] and args.dry_run
    args = build_parser().parse_args(["demo"])
    assert (args.stop, args.port, args.no_wait) == (False, 8080, False)
    args = build_parser().parse_args(["jobs", "export"])
    assert args.name is None and args.output is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["jobs"],
        ["tokens"],
        ["bogus"],
        ["jobs", "apply"],  # FILE is required
        ["jobs", "delete"],
        ["tokens", "create", "--name", "x"],  # --role is required
        ["tokens", "create", "--name", "x", "--role", "superuser"],
        ["demo", "--port", "eighty"],
    ],
)
def test_wrong_usage_exits_2_with_a_message_on_stderr(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "usage: airflow-sync" in captured.err


def test_help_explains_the_job_file_format(capsys):
    assert main(["jobs", "apply", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Query#1" in text and "nothing is changed" in text and "connection" in text


def test_bad_role_lists_the_roles(capsys):
    main(["tokens", "create", "--name", "x", "--role", "root"])
    err = capsys.readouterr().err
    assert all(role in err for role in ("admin", "job_creator", "standard", "support", "viewer"))


# ---------------------------------------------------------------------------------------- job files


def test_a_file_with_one_job_a_list_or_an_api_response(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps(JOB))
    (tmp_path / "list.json").write_text(json.dumps([JOB | {"JobName": "a"}, JOB | {"JobName": "b"}]))
    envelope = {"@odata.context": "http://x/api.rsc/$metadata#jobs", "value": [JOB | {"JobName": "c"}]}
    (tmp_path / "api.json").write_text(json.dumps(envelope))
    result = load_files([str(tmp_path / n) for n in ("one.json", "list.json", "api.json")])
    assert result.problems == []
    assert [d.name for d in result.documents] == ["crm", "a", "b", "c"]
    assert [d.where for d in result.documents][:3] == [
        str(tmp_path / "one.json"),
        f"{tmp_path / 'list.json'}[0]",
        f"{tmp_path / 'list.json'}[1]",
    ]
    assert result.documents[0].body == JOB


def test_odata_annotations_are_dropped_but_response_fields_are_kept_for_the_model():
    body = JOB | {"@odata.context": "x", "JobId": "4f209e61-714c-4898-a07e-ce48bcf7734f", "Status": "Idle"}
    (doc,) = parse_text(json.dumps(body), "f.json").documents
    assert "@odata.context" not in doc.body
    assert doc.body["JobId"] == body["JobId"] and doc.body["Status"] == "Idle"


def test_job_name_is_found_case_insensitively():
    (doc,) = parse_text(json.dumps({"jobname": "x"}), "f.json").documents
    assert doc.name == "x"


def test_invalid_json_names_file_line_and_column():
    result = parse_text('{"JobName": "x",\n  "Source": }', "jobs/bad.json")
    (problem,) = result.problems
    assert str(problem).startswith("jobs/bad.json: not valid JSON")
    assert "line 2" in str(problem)
    assert result.documents == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"REPLICATE [x]"', "expected a JSON object (one job) or a list of jobs, got str"),
        ("[]", "empty list"),
        ('[{"JobName": "a"}, 3]', "f.json[1]: expected a job object, got int"),
    ],
)
def test_wrong_shapes_are_problems_not_crashes(text, fragment):
    assert fragment in " | ".join(str(p) for p in parse_text(text, "f.json").problems)


def test_missing_files_and_duplicate_names_are_all_reported(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(JOB))
    (tmp_path / "b.json").write_text(json.dumps([JOB]))
    result = load_files([str(tmp_path / "a.json"), str(tmp_path / "missing.json"), str(tmp_path / "b.json")])
    messages = [str(p) for p in result.problems]
    assert any("missing.json: no such file" in m for m in messages)
    assert any("job 'crm': JobName: defined twice (also in" in m for m in messages)


def test_stdin_is_read_for_dash(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(JOB)))
    assert [d.name for d in load_files(["-"]).documents] == ["crm"]


def test_table_columns_line_up():
    text = format_table([{"a": "x", "b": 1}, {"a": "longer", "b": None}], [("A", "a"), ("B", "b")])
    assert text.splitlines() == ["A       B", "x       1", "longer"]


# ------------------------------------------------------------------------------------------- demo


def _digest(path) -> str:
    with sqlite3.connect(path) as db:
        rows = [
            (t, db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall())
            for t in ("Customers", "Products", "Orders")
        ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_demo_source_data_is_deterministic_and_realistic(tmp_path):
    from airflow_sync.demo import data

    counts = data.create_source_db(tmp_path / "a.db")
    data.create_source_db(tmp_path / "b.db")
    assert _digest(tmp_path / "a.db") == _digest(tmp_path / "b.db")
    assert counts["Customers"] == 240 and counts["Products"] == 60 and counts["Orders"] == 900
    assert 0 < counts["orders_recent"] < counts["Orders"]
    assert data.table_counts(tmp_path / "a.db") == {"Customers": 240, "Orders": 900, "Products": 60}
    with sqlite3.connect(tmp_path / "a.db") as db:
        recent = db.execute(
            "SELECT COUNT(*) FROM Orders WHERE OrderDate >= ? AND Status <> 'cancelled'", (data.RECENT_SINCE,)
        ).fetchone()[0]
        assert db.execute("SELECT COUNT(*) FROM Customers WHERE updated_at < CreatedAt").fetchone()[0] == 0
    assert recent == counts["orders_recent"]


def test_demo_warehouse_is_recreated_empty(tmp_path):
    from airflow_sync.demo import data

    wh = tmp_path / "wh.db"
    with sqlite3.connect(wh) as db:
        db.execute("CREATE TABLE old (x)")
    data.create_empty_db(wh)
    assert data.table_counts(wh) == {}


def test_demo_job_parses_and_uses_with_options_and_prefix():
    pytest.importorskip("airflow_sync.jobs.model")
    from airflow_sync.demo.job import demo_job, expected_counts
    from airflow_sync.jobs.model import Job

    job = Job.from_wire(demo_job())
    assert len(job.queries) == 3 and job.table_name_prefix == "shop_"
    assert "WITH TruncateTable=true" in job.queries[2]
    assert set(expected_counts({"Customers": 1, "Products": 2, "orders_recent": 3})) == {
        "shop_Customers",
        "shop_Products",
        "orders_recent",
    }


def test_airflow_home_config_is_complete_and_shared_secrets_are_stable(tmp_path):
    from airflow_sync.demo import home

    keys = home.ensure_secrets(tmp_path)
    assert home.ensure_secrets(tmp_path) == keys  # generated once
    cfg_path = home.write_airflow_cfg(
        tmp_path,
        sql_alchemy_conn="sqlite:////x/airflow.db",
        dags_folder=tmp_path / "dags",
        port=8123,
        keys=keys,
    )
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(cfg_path)
    assert cfg["core"]["executor"] == "LocalExecutor"
    assert cfg["core"]["load_examples"] == "False"
    assert cfg["core"]["auth_manager"].endswith("SimpleAuthManager")
    assert cfg["core"]["execution_api_server_url"] == "http://127.0.0.1:8123/execution/"
    assert cfg["api"]["base_url"] == "http://127.0.0.1:8123" and cfg["api"]["host"] == "127.0.0.1"
    assert cfg["api_auth"]["jwt_secret"] == keys["jwt_secret"]
    assert cfg["core"]["fernet_key"] == keys["fernet_key"]
    assert cfg["logging"]["worker_log_server_port"] != "8793"
    passwords = json.loads((tmp_path / "passwords.json").read_text())
    assert passwords == {"admin": keys["admin_password"]}


def test_airflow_env_drops_inherited_airflow_settings(tmp_path):
    from airflow_sync.demo import home

    env = home.airflow_env(
        tmp_path,
        {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "AIRFLOW_CONN_X": "y", "PATH": "/usr/bin", "LANG": "C"},
    )
    assert env["AIRFLOW_HOME"] == str(tmp_path) and env["LANG"] == "C"
    assert not any(k.startswith(("AIRFLOW__", "AIRFLOW_CONN_")) for k in env)
    assert env["PATH"].split(":")[0] == str(home.bin_dir())
    assert (home.bin_dir() / "airflow").exists()


def test_dags_folder_holds_the_shim():
    from airflow_sync.demo import home

    folder = home.find_dags_folder()
    assert (folder / "airflow_sync_jobs.py").is_file()


def test_stop_without_a_running_demo_is_a_no_op(tmp_path, capsys):
    assert main(["demo", "--stop", "--dir", str(tmp_path)]) == 0
    assert "not running" in capsys.readouterr().out


def test_a_stale_pidfile_never_signals_a_foreign_process(tmp_path, capsys):
    import os
    import subprocess
    import sys

    # a live process that is not airflow, recorded as if it were the demo's scheduler
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        (tmp_path / "demo.json").write_text(json.dumps({"port": 1, "processes": {"scheduler": sleeper.pid}}))
        assert main(["demo", "--stop", "--dir", str(tmp_path)]) == 0
        assert sleeper.poll() is None
        os.kill(sleeper.pid, 0)
        assert not (tmp_path / "demo.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stopping_a_component_also_ends_its_task_processes_in_other_sessions(tmp_path):
    """LocalExecutor task processes run in their own session; stopping the scheduler must not leave them."""
    import os
    import stat
    import sys
    import time

    from airflow_sync.demo import processes

    fake = tmp_path / "airflow"  # named like the real command, so the pid checks recognise it
    fake.write_text(
        f"#!{sys.executable}\n"
        "import subprocess, sys, time\n"
        "if sys.argv[1] == 'scheduler':\n"
        "    subprocess.Popen([sys.argv[0], 'task'], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    comp = processes.start(
        "scheduler", [str(fake), "scheduler"], env=dict(os.environ), log=tmp_path / "s.log"
    )
    deadline = time.monotonic() + 20
    while not processes.descendants(comp.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    (task,) = processes.descendants(comp.pid)
    assert os.getpgid(task) != comp.pid
    assert processes.is_our_process(comp.pid)

    assert processes.stop_groups([comp.pid], timeout=5) == [comp.pid]
    assert comp.popen.poll() is not None
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{task}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{task}")

"""``airflow-sync jobs …`` in-process against a real metadata DB: apply (all or nothing), list, export
round trip, delete refused while a run is queued."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from airflow_sync.cli import main

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")


@pytest.fixture(scope="module")
def conns(airflow_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_conns")
    env = {
        "AIRFLOW_CONN_CLI_SRC": json.dumps({"conn_type": "sqlite", "host": str(folder / "src.db")}),
        "AIRFLOW_CONN_CLI_DST": json.dumps({"conn_type": "sqlite", "host": str(folder / "dst.db")}),
    }
    os.environ.update(env)
    yield "cli_src", "cli_dst"
    for key in env:
        os.environ.pop(key, None)


@pytest.fixture
def names():
    """Unique job names per test (the metadata DB is shared by the whole session)."""
    tag = uuid.uuid4().hex[:6]
    return [f"cli_{tag}_{i}" for i in range(4)]


def job(name: str, *queries: str, **fields) -> dict:
    body = {"JobName": name, "Source": "cli_src", "Destination": "cli_dst", **fields}
    for i, q in enumerate(queries or ("REPLICATE [Customers]",), start=1):
        body[f"Query#{i}"] = q
    return body


def write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(name: str):
    from airflow_sync.exceptions import JobNotFoundError
    from airflow_sync.jobs import store

    try:
        return store.get_job(name)
    except JobNotFoundError:
        return None


def queue_run(dag_id: str) -> str:
    """A queued DagRun for the DAG, as the scheduler would see it before starting it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType
    from pendulum import now

    run_id = f"manual__{uuid.uuid4().hex}"
    with create_session() as s:
        s.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                run_type=DagRunType.MANUAL,
                state=DagRunState.QUEUED,
                run_after=now("UTC"),
            )
        )
    return run_id


def finish_run(dag_id: str, run_id: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as s:
        s.execute(
            update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).values(state="success")
        )


# ------------------------------------------------------------------------------------------------- apply


def test_apply_creates_then_reports_unchanged_then_updates_keeping_the_job_id(conns, names, tmp_path, capsys):
    a, b = names[:2]
    f1 = write(tmp_path / "one.json", job(a))
    f2 = write(
        tmp_path / "two.json",
        [
            job(
                b,
                "REPLICATE [recent] WITH TruncateTable=true SELECT [Id] FROM [Orders] WHERE [Id] > 10",
                Scheduled="True",
                ScheduledCron="0 2 * * *",
            )
        ],
    )
    code, out, err = cli(capsys, "jobs", "apply", f1, f2)
    assert code == 0, err
    assert f"created   {a}" in out and f"created   {b}" in out
    assert "2 created, 0 updated, 0 unchanged" in err
    first = stored(a)
    assert first is not None and first.queries == ("REPLICATE [Customers]",)
    assert stored(b).scheduled_cron == "0 2 * * *"

    code, out, err = cli(capsys, "jobs", "apply", f1, f2)
    assert code == 0 and f"unchanged {a}" in out and f"unchanged {b}" in out

    write(tmp_path / "one.json", job(a, "REPLICATE [Customers]", "REPLICATE [Products]", BatchSize="250"))
    code, out, err = cli(capsys, "jobs", "apply", f1)
    assert code == 0, err
    assert f"updated   {a} (version {first.version} -> " in out
    updated = stored(a)
    assert updated.job_id == first.job_id
    assert updated.queries == ("REPLICATE [Customers]", "REPLICATE [Products]") and updated.batch_size == 250
    assert updated.task_ids[0] == first.task_ids[0]  # a query still there keeps its TaskId
    assert updated.task_ids[1] not in first.task_ids


def test_dry_run_changes_nothing(conns, names, tmp_path, capsys):
    f = write(tmp_path / "j.json", job(names[0]))
    code, out, err = cli(capsys, "jobs", "apply", "--dry-run", f)
    assert code == 0 and "nothing changed" in err
    assert out.split()[:4] == ["would", "be", "created", names[0]]
    assert stored(names[0]) is None


BAD_CASES = {
    "bad cron": ({"Scheduled": "True", "ScheduledCron": "61 * * * *"}, (), "ScheduledCron", "61"),
    "unknown field": ({"Colour": "red"}, (), "Colour", "Unknown field"),
    "query does not parse": ({}, ("REPLICATE [ok]", "REPLICATE FROM WHERE"), "Query#2", "position"),
    "missing connection": (
        {"Destination": "no_such_conn"},
        (),
        "Destination",
        "'no_such_conn' does not exist",
    ),
}


@pytest.mark.parametrize("case", BAD_CASES, ids=list(BAD_CASES))
def test_one_bad_job_refuses_the_whole_apply_and_names_the_problem(conns, names, tmp_path, capsys, case):
    fields, queries, field, fragment = BAD_CASES[case]
    good, also_good, bad = names[:3]
    f_good = write(tmp_path / "good.json", [job(good), job(also_good)])
    f_bad = write(tmp_path / "bad.json", job(bad, *queries, **fields))
    code, out, err = cli(capsys, "jobs", "apply", f_good, f_bad)
    assert code == 1
    assert out == ""
    assert "nothing was changed" in err
    line = next(ln for ln in err.splitlines() if f"job {bad!r}" in ln)
    assert line.strip().startswith(f"{f_bad}: job {bad!r}: {field}:"), line
    assert fragment in line
    assert "Traceback" not in err
    assert [stored(n) for n in (good, also_good, bad)] == [None, None, None]


def test_every_problem_of_every_file_is_reported_at_once(conns, names, tmp_path, capsys):
    f1 = write(tmp_path / "a.json", job(names[0], Colour="red"))
    f2 = write(tmp_path / "b.json", [job(names[1], "REPLICATE"), {"Source": "cli_src"}])
    f3 = str(tmp_path / "missing.json")
    code, _, err = cli(capsys, "jobs", "apply", f1, f2, f3)
    assert code == 1
    assert "Colour" in err and "Query#1" in err and "JobName" in err and "missing.json: no such file" in err
    assert err.count(f"{tmp_path}") >= 4


def test_a_failure_while_writing_rolls_back_the_jobs_written_before_it(conns, names, tmp_path, capsys):
    """The second job exists and is running, so its update fails after the first job was created: the
    creation must be rolled back (one transaction)."""
    new, busy = names[:2]
    assert cli(capsys, "jobs", "apply", write(tmp_path / "busy.json", job(busy)))[0] == 0
    run_id = queue_run(stored(busy).dag_id())
    try:
        files = write(tmp_path / "both.json", [job(new), job(busy, "REPLICATE [Other]")])
        code, _, err = cli(capsys, "jobs", "apply", files)
        assert code == 1
        assert f"job {busy!r}" in err and "running" in err and "nothing was changed" in err
        assert stored(new) is None
        assert stored(busy).queries == ("REPLICATE [Customers]",)
    finally:
        finish_run(stored(busy).dag_id(), run_id)


# ------------------------------------------------------------------------------------------ list / export


def test_list_shows_the_jobs(conns, names, tmp_path, capsys):
    a = names[0]
    cli(capsys, "jobs", "apply", write(tmp_path / "a.json", job(a, "REPLICATE [A]", "REPLICATE [B]")))
    code, out, _ = cli(capsys, "jobs", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "SOURCE", "DESTINATION", "SCHEDULE", "QUERIES", "VERSION"]
    (row,) = [r.split() for r in rows if r.split()[0] == a]
    assert row == [a, "cli_src", "cli_dst", "manual", "2", stored(a).version]

    code, out, _ = cli(capsys, "jobs", "list", "--json")
    (entry,) = [e for e in json.loads(out) if e["JobName"] == a]
    assert entry["Queries"] == 2 and entry["JobId"] == stored(a).job_id


def test_export_then_apply_round_trips_unchanged(conns, names, tmp_path, capsys):
    a, b = names[:2]
    body_b = job(
        b,
        "REPLICATE [x] WITH DropTable=true SELECT [Id], [Name] AS [n] FROM [T] WHERE [Id] >= 5",
        Scheduled="True",
        ScheduledCron="15 3 * * 1",
        TableNamePrefix="stg_",
        OtherCacheOptions="BatchSize=10",
    )
    cli(capsys, "jobs", "apply", write(tmp_path / "in.json", [job(a), body_b]))

    code, out, _ = cli(capsys, "jobs", "export")
    exported = json.loads(out)
    assert isinstance(exported, list) and {a, b} <= {e["JobName"] for e in exported}
    (tmp_path / "all.json").write_text(out)
    code, out, err = cli(capsys, "jobs", "apply", str(tmp_path / "all.json"))
    assert code == 0, err
    assert f"unchanged {a}" in out and f"unchanged {b}" in out and "updated" not in out

    code, out, _ = cli(capsys, "jobs", "export", b)
    single = json.loads(out)
    assert isinstance(single, dict) and single["JobName"] == b and single["JobId"] == stored(b).job_id

    # a deleted job comes back from its export with the same JobId
    before = stored(b)
    assert cli(capsys, "jobs", "export", b, "-o", str(tmp_path / "b.json"))[0] == 0
    assert cli(capsys, "jobs", "delete", b)[0] == 0
    code, out, _ = cli(capsys, "jobs", "apply", str(tmp_path / "b.json"))
    assert code == 0 and f"created   {b}" in out
    after = stored(b)
    assert after.job_id == before.job_id and after.version == before.version


def test_export_of_an_unknown_job_fails_cleanly(conns, capsys):
    code, out, err = cli(capsys, "jobs", "export", "no_such_job_xyz")
    assert code == 1 and out == "" and "does not exist" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------- delete


def test_delete_is_refused_while_a_run_is_queued(conns, names, tmp_path, capsys):
    a = names[0]
    cli(capsys, "jobs", "apply", write(tmp_path / "a.json", job(a)))
    dag_id = stored(a).dag_id()
    run_id = queue_run(dag_id)
    code, out, err = cli(capsys, "jobs", "delete", a)
    assert code == 1 and out == ""
    assert f"job {a!r} has a queued or running run" in err and "Nothing was changed" in err
    assert stored(a) is not None

    finish_run(dag_id, run_id)
    code, out, err = cli(capsys, "jobs", "delete", a)
    assert code == 0, err
    assert f"deleted {a}" in out
    assert stored(a) is None
    code, _, err = cli(capsys, "jobs", "delete", a)
    assert code == 1 and "does not exist" in err

"""``airflow-sync demo``: a local Airflow running a demo replication job end to end.

Layout (``.demo/`` in the project root, git-ignored)::

    .demo/airflow/     AIRFLOW_HOME: airflow.cfg, airflow.db (SQLite), passwords.json, secrets.json, logs/
    .demo/logs/        one log per component (api-server.log, scheduler.log, ...) and db-migrate.log
    .demo/demo.json    pids and port of the running components
    .demo/source.db    sample shop data (the job's Source)
    .demo/warehouse.db the job's Destination (recreated empty on every demo run)
    .demo/demo_job.json the demo job, as `airflow-sync jobs apply` takes it
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from airflow_sync import settings
from airflow_sync.cli import CommandError, out
from airflow_sync.cli.jobs import Change
from airflow_sync.demo import data, home, processes
from airflow_sync.demo.job import JOB_NAME, SOURCE_CONN, WAREHOUSE_CONN, demo_job, expected_counts

STARTUP_TIMEOUT = 180.0
PARSE_TIMEOUT = 120.0
RUN_TIMEOUT = 600.0


@dataclass(frozen=True)
class Layout:
    """Where the demo keeps its files."""

    root: Path

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        return self.root / "demo.json"

    @property
    def source_db(self) -> Path:
        return self.root / "source.db"

    @property
    def warehouse_db(self) -> Path:
        return self.root / "warehouse.db"

    @property
    def job_file(self) -> Path:
        return self.root / "demo_job.json"


def _say(msg: str) -> None:
    print(msg, file=out(), flush=True)


def _layout(args: argparse.Namespace) -> Layout:
    root = Path(args.dir) if args.dir else home.find_project_root() / ".demo"
    return Layout(root.resolve())


def _running(layout: Layout) -> list[processes.Started]:
    state = processes.read_state(layout.state)
    return [
        processes.Started(name, int(pid), layout.logs / f"{name}.log")
        for name, pid in state.get("processes", {}).items()
    ]


def stop(layout: Layout) -> int:
    """Stop what the demo started (idempotent)."""
    procs = _running(layout)
    alive = [p for p in procs if p.running()]
    if not alive:
        layout.state.unlink(missing_ok=True)
        _say("The demo is not running.")
        return 0
    _say("Stopping " + ", ".join(f"{p.name} (pid {p.pid})" for p in alive) + " ...")
    processes.stop_groups([p.pid for p in alive])
    layout.state.unlink(missing_ok=True)
    _say("Demo stopped.")
    return 0


def _enter_airflow_env(layout: Layout) -> dict[str, str]:
    """Point this process at the demo's Airflow home; must happen before anything imports airflow."""
    env = home.airflow_env(layout.airflow_home)
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    os.environ.update(env)
    return env


def _migrate(env: dict[str, str], layout: Layout) -> None:
    log = layout.logs / "db-migrate.log"
    t0 = time.monotonic()
    with log.open("ab") as out:
        rc = subprocess.call(
            [str(home.bin_dir() / "airflow"), "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if rc != 0:
        raise CommandError(f"`airflow db migrate` failed (exit {rc}); see {log}:\n{processes.tail(log, 15)}")
    _say(f"  metadata DB migrated ({time.monotonic() - t0:.1f} s)")


def _set_connections(layout: Layout) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as s:
        s.execute(delete(Connection).where(Connection.conn_id.in_([SOURCE_CONN, WAREHOUSE_CONN])))
        s.add(
            Connection(
                conn_id=SOURCE_CONN,
                conn_type="sqlite",
                host=str(layout.source_db),
                description="airflow_sync demo: sample shop database",
            )
        )
        s.add(
            Connection(
                conn_id=WAREHOUSE_CONN,
                conn_type="sqlite",
                host=str(layout.warehouse_db),
                description="airflow_sync demo: warehouse",
            )
        )


def _apply_job(layout: Layout) -> Change:
    from airflow.utils.session import create_session

    from airflow_sync.cli.files import load_files
    from airflow_sync.cli.jobs import ApplyRefused, apply_jobs, parse_documents
    from airflow_sync.jobs.connections import connection_type

    layout.job_file.write_text(json.dumps(demo_job(), indent=2) + "\n")
    loaded = load_files([str(layout.job_file)])
    jobs, problems = parse_documents(loaded.documents, connection_type)
    if loaded.problems or problems:
        raise ApplyRefused(loaded.problems + problems)
    with create_session() as s:
        (change,) = apply_jobs(jobs, session=s)
    _say(
        f"  job {change.job.name!r} {change.action} (DAG {change.job.dag_id()}, version {change.job.version})"
    )
    return change


def _start_components(layout: Layout, env: dict[str, str], port: int) -> list[processes.Started]:
    airflow = str(home.bin_dir() / "airflow")
    started = []
    for name, cmd in processes.COMPONENTS.items():
        argv = [airflow, *cmd]
        if name == "api-server":
            argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        proc = processes.start(name, argv, env=env, log=layout.logs / f"{name}.log", cwd=layout.root)
        started.append(proc)
        _say(f"  started {name:<13} pid {proc.pid:<7} log {proc.log}")
    processes.write_state(
        layout.state,
        {
            "port": port,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "processes": {p.name: p.pid for p in started},
        },
    )
    return started


def _reusable(layout: Layout, port: int) -> list[processes.Started] | None:
    """The running demo components if all are up on the same port; otherwise stop leftovers, return None."""
    procs = _running(layout)
    state = processes.read_state(layout.state)
    alive = [p for p in procs if p.running()]
    complete = {p.name for p in alive} == set(processes.COMPONENTS)
    if complete and state.get("port") == port and processes.http_ok(_health_url(port)):
        return alive
    if alive:
        _say("  restarting: the previous demo processes are incomplete or on another port")
        processes.stop_groups([p.pid for p in alive])
    layout.state.unlink(missing_ok=True)
    return None


def _health_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v2/monitor/health"


def _print_report(report, source_counts: dict[str, int], layout: Layout) -> bool:
    from airflow_sync.cli.output import print_table

    secs = f" in {report.seconds:.1f} s" if report.seconds is not None else ""
    _say(f"\nRun {report.run_id} of {report.dag_id}: {report.state.upper()}{secs}")
    rows = []
    for q in report.queries:
        s = q.summary
        rows.append(
            {
                "task": q.task_id,
                "status": (q.state or "not started").upper(),
                "table": s.get("destination", ""),
                "mode": s.get("mode", ""),
                "read": s.get("rows_read", ""),
                "written": s.get("records_affected", ""),
                "seconds": f"{s['seconds']:.2f}" if isinstance(s.get("seconds"), int | float) else "",
                "query": q.query if len(q.query) <= 60 else q.query[:57] + "...",
            }
        )
    print_table(
        rows,
        [
            ("QUERY TASK", "task"),
            ("STATUS", "status"),
            ("TABLE", "table"),
            ("MODE", "mode"),
            ("ROWS READ", "read"),
            ("WRITTEN", "written"),
            ("SECONDS", "seconds"),
            ("QUERY", "query"),
        ],
    )
    counts = data.table_counts(layout.warehouse_db)
    expected = expected_counts(source_counts)
    _say(f"\nDestination row counts ({layout.warehouse_db}):")
    ok = True
    for table in sorted(set(counts) | set(expected)):
        got, want = counts.get(table), expected.get(table)
        mark = "" if want is None else ("  ok" if got == want else f"  MISMATCH: expected {want}")
        ok = ok and (want is None or got == want)
        _say(f"  {table:<20} {got if got is not None else 'missing':>6} rows{mark}")
    return ok


def _wait_ready(
    started: list[processes.Started], port: int, dag_id: str, layout: Layout, since: datetime | None
) -> None:
    from airflow_sync.demo import report

    waited = processes.wait_for(
        f"the api-server on port {port}",
        lambda: processes.http_ok(_health_url(port)),
        timeout=STARTUP_TIMEOUT,
        procs=started,
        hint=f"See {layout.logs / 'api-server.log'}.",
    )
    _say(f"  api-server healthy at http://127.0.0.1:{port} ({waited:.1f} s)")
    try:
        waited = processes.wait_for(
            f"DAG {dag_id} to be parsed",
            lambda: report.dag_ready(dag_id, since),
            timeout=PARSE_TIMEOUT,
            procs=started,
            interval=0.5,
            hint=f"See {layout.logs / 'dag-processor.log'}.",
        )
    except RuntimeError as exc:
        errors = report.import_errors()
        raise CommandError(
            f"{exc}" + ("\nImport errors:\n  " + "\n  ".join(errors) if errors else "")
        ) from exc
    _say(f"  DAG {dag_id} parsed ({waited:.1f} s)")


def _demo(args: argparse.Namespace, layout: Layout) -> int:
    port = args.port
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(exist_ok=True)
    _say(f"airflow_sync demo in {layout.root}")
    reused = _reusable(layout, port)
    if reused is None and home.port_in_use(port):
        raise CommandError(
            f"port {port} on 127.0.0.1 is in use by another program; stop it or pick another port: "
            f"airflow-sync demo --port {port + 1}"
        )
    keys = home.ensure_secrets(layout.airflow_home)
    if reused is None:
        home.write_airflow_cfg(
            layout.airflow_home,
            sql_alchemy_conn=f"sqlite:///{layout.airflow_home / 'airflow.db'}",
            dags_folder=home.find_dags_folder(),
            port=port,
            keys=keys,
        )
    env = _enter_airflow_env(layout)
    source_counts = data.create_source_db(layout.source_db)
    data.create_empty_db(layout.warehouse_db)
    tables = ", ".join(f"{k} {v}" for k, v in source_counts.items() if k != "orders_recent")
    _say(f"  sample data: {layout.source_db.name} ({tables} rows), empty {layout.warehouse_db.name}")
    if reused is None:
        _migrate(env, layout)

    from airflow_sync.demo import report

    _set_connections(layout)
    dag_id = settings.get_str("dag_id_prefix") + JOB_NAME
    stale = report.fail_active_runs(dag_id)
    if stale:
        _say(f"  marked {len(stale)} leftover run(s) of an earlier demo as failed")
    applied_at = datetime.now(UTC)
    change = _apply_job(layout)
    job = change.job
    # a changed job must be re-parsed before it runs (runs carry the job version, design D10)
    parsed_since = None if change.action == "unchanged" else applied_at
    if reused is None:
        started = _start_components(layout, env, port)
    else:
        started = reused
        _say("  Airflow is already running; reusing it (`airflow-sync demo --stop` to stop it)")
    try:
        _wait_ready(started, port, job.dag_id(), layout, parsed_since)
    except (RuntimeError, CommandError) as exc:
        if reused is None:
            processes.stop_all(started)
            layout.state.unlink(missing_ok=True)
        raise CommandError(str(exc)) from exc
    run_id = report.trigger(job, user="airflow-sync demo")
    _say(f"  triggered run {run_id}")
    ok = True
    if not args.no_wait:

        def alive() -> None:
            for proc in started:
                if not proc.running():
                    raise CommandError(f"the {proc.name} exited during the run; see {proc.log}")

        result = report.wait_for_run(
            job,
            run_id,
            timeout=RUN_TIMEOUT,
            on_change=lambda task, state: _say(f"    {task:<24} {state or 'none'}"),
            alive=alive,
        )
        ok = _print_report(result, source_counts, layout) and result.state == "success"
    _say(
        f"\nAirflow UI:  http://127.0.0.1:{port}   login: {home.ADMIN_USER} / {keys['admin_password']}"
        f"   (password also in {layout.airflow_home / 'passwords.json'})"
        f"\nSync Jobs:   http://127.0.0.1:{port}/plugin/sync-jobs   (the jobs page in the UI, same login)"
        f"\nJob API:     http://127.0.0.1:{port}/api.rsc/jobs"
        f"\nThis shell:  export AIRFLOW_HOME={layout.airflow_home}   (then `airflow-sync jobs list` ...)"
        f"\nLogs:        {layout.logs}/   Task logs: {layout.airflow_home / 'logs'}/"
        f"\nStop:        make demo-stop   (or: airflow-sync demo --stop)"
    )
    if not ok:
        _say("\nThe demo run did NOT succeed; the task logs above tell why.")
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``airflow-sync demo [--stop] [--port N] [--no-wait] [--dir DIR]``"""
    layout = _layout(args)
    if args.stop:
        return stop(layout)
    if "airflow" in sys.modules:
        # Airflow already loaded its configuration in this process (e.g. called from Python): run the
        # demo in a fresh interpreter so it uses the demo's own Airflow home.
        argv = [
            sys.executable,
            "-m",
            "airflow_sync.cli",
            "demo",
            "--port",
            str(args.port),
            "--dir",
            str(layout.root),
        ]
        if args.no_wait:
            argv.append("--no-wait")
        return subprocess.call(argv, env=home.airflow_env(layout.airflow_home))
    return _demo(args, layout)

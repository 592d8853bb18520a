"""The Job Management API at scale: ``python -m bench.api_scale`` (``make bench-api``).

Creates its own fresh PostgreSQL metadata database (``bench_<pid>_apimeta``, migrated with Airflow's and
airflow_sync's migrations, dropped at the end), 1,000 jobs through the real store with their DAGs parsed
into it, and 10,000 runs as real DagRun / TaskInstance / XCom rows (``bench/api_data.py``). Then it calls the
real api-server app — Airflow's ``create_app(apps="core")`` with the plugin at ``/api.rsc``, in process
through Starlette's TestClient, so every request goes through the whole ASGI middleware, authentication (a
CData ``x-cdata-authtoken``, or a JWT where marked) and authorization stack — and prints the median, p90
and best of each request against the spec's target.

The peer is Airflow's own REST API on the same app, data and load (``/api/v2``): the ratio says how much
slower or faster the Sync API answers the closest question Airflow answers. Every answer is checked
(status, row counts, order) before its time counts. Timings on a shared machine are noisy: the load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "api-scale.json"
#: Airflow's own log lines (parsing, one access-log line per request) go here, not to the terminal
LOG = ROOT / "bench" / "results" / "logs" / "api-scale.log"
#: the terminal: this benchmark's progress and report
OUT = sys.stdout


def say(*parts: Any) -> None:
    print(*parts, file=OUT, flush=True)


@dataclass
class Case:
    """One timed request."""

    label: str
    method: str
    path: str
    target_ms: float | None
    body: dict[str, Any] | None = None
    auth: str = "token"  # token | jwt
    check: Callable[[Any], None] | None = None
    peer: str | None = None  # label of the Airflow API case it is compared with
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _configure(home: Path, url: str, fernet_key: str) -> None:
    """Airflow's environment for this process (before anything imports ``airflow``)."""
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({"admin": "adminpw"}))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # one file builds 1,000 DAGs: on a loaded 2-core machine that can exceed the default 30 s
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY": fernet_key,  # Variables encrypted, as deployed
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API_AUTH__JWT_SECRET": "bench-" + os.urandom(16).hex(),
            "AIRFLOW_SYNC_FORCE_API": "1",  # serve /api.rsc in this process (as the api-server does)
            "AIRFLOW_CONN_BENCH_SRC": json.dumps({"conn_type": "sqlite", "host": str(home / "src.db")}),
            "AIRFLOW_CONN_BENCH_DST": json.dumps({"conn_type": "sqlite", "host": str(home / "dst.db")}),
        }
    )


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def _seed(jobs: int, runs: int) -> dict[str, Any]:
    from airflow.utils import db

    from bench import api_data

    facts: dict[str, Any] = {}
    t0 = time.perf_counter()
    db.initdb()
    facts["migrate_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    created = api_data.create_jobs(jobs, "bench_src", "bench_dst")
    facts["create_jobs_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    facts["dags"] = api_data.parse_dags()
    facts["parse_dags_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    plans = api_data.plan_runs(created, runs, now=now)
    api_data.write_runs(plans)
    facts["write_runs_s"] = round(time.perf_counter() - t0, 1)
    # table statistics, as autovacuum keeps them in a deployment (without, PostgreSQL plans for 3 rows)
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        session.execute(text("ANALYZE"))
    facts["runs"] = len(plans)
    facts["now"] = now.isoformat()
    facts["plans"] = plans
    return facts


def _psycopg2(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://")


def _reseed_facts(saved: dict[str, Any]) -> dict[str, Any]:
    """The facts of a kept database (its runs planned again: the same seed gives the same plan)."""
    from airflow_sync.jobs import store
    from bench import api_data

    now = datetime.fromisoformat(saved["now"])
    plans = api_data.plan_runs(store.list_jobs(), saved["runs"], now=now)
    return {"now": saved["now"], "runs": len(plans), "plans": plans}


def _cases(jobs: int, facts: dict[str, Any]) -> list[Case]:
    from bench.api_data import job_name

    name = job_name(jobs // 2)
    plans = facts["plans"]
    dag_id = "sync__" + name
    own_runs = sum(1 for p in plans if p.dag_id == dag_id)
    now = datetime.fromisoformat(facts["now"])
    week_from, week_to = (now - timedelta(days=30)).date(), (now - timedelta(days=23)).date()

    def rows(n: int) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            assert len(body["value"]) == n, (len(body["value"]), n)

        return check

    def history_desc(body: Any) -> None:
        ids = [int(r["Id"]) for r in body["value"]]
        assert len(ids) == 50 and ids == sorted(ids, reverse=True), ids[:5]

    def only(field: str, value: str) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            assert body["value"] and all(r[field] == value for r in body["value"]), body["value"][:2]

        return check

    def in_week(body: Any) -> None:
        starts = [r["RunStartDate"][:10] for r in body["value"]]
        assert len(starts) == 50 and all(str(week_from) <= s < str(week_to) for s in starts), starts[:3]

    def count(n: int) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            assert int(body) == n, (body, n)

        return check

    def status(body: Any) -> None:
        assert body["JobName"] == name and body["value"][0]["JobName"] == name, body

    q = "/api.rsc"
    return [
        Case(
            "GET /jobs('X')",
            "GET",
            f"{q}/jobs('{name}')",
            10,
            check=lambda b: None,
            peer="Airflow GET /dags/{id}",
        ),
        Case("GET /jobs/$count", "GET", f"{q}/jobs/$count", 20, check=count(jobs)),
        Case(
            "GET /jobs?$filter=JobName eq 'X'",
            "GET",
            f"{q}/jobs?$filter=JobName eq '{name}'",
            20,
            check=rows(1),
        ),
        Case(
            "GET /jobs (all)", "GET", f"{q}/jobs", 100, check=rows(jobs), peer="Airflow GET /dags?limit=1000"
        ),
        Case("GET /jobs (all, JWT as the UI)", "GET", f"{q}/jobs", 100, auth="jwt", check=rows(jobs)),
        Case(
            "GET /jobs?$filter=Status eq 'Failed'&$count=true",
            "GET",
            f"{q}/jobs?$filter=Status eq 'Failed'&$count=true",
            None,
        ),
        Case(
            "GET /history?$top=50",
            "GET",
            f"{q}/history?$top=50",
            100,
            check=history_desc,
            peer="Airflow GET /dags/~/dagRuns?limit=50",
        ),
        Case(
            "history?$top=50 JobName eq 'X'",
            "GET",
            f"{q}/history?$top=50&$filter=JobName eq '{name}'",
            100,
            check=rows(min(50, own_runs)),
        ),
        Case(
            "history?$top=50 Status eq 'Failed'",
            "GET",
            f"{q}/history?$top=50&$filter=Status eq 'Failed'&$count=true",
            100,
            check=only("Status", "Failed"),
            peer="Airflow GET /dags/~/dagRuns?state=failed",
        ),
        Case(
            "history?$top=50 RunStartDate in a week",
            "GET",
            f"{q}/history?$top=50&$filter=RunStartDate ge {week_from} and RunStartDate lt {week_to}",
            100,
            check=in_week,
        ),
        Case(
            "history?$top=50 Status+date, orderby start",
            "GET",
            f"{q}/history?$top=50&$orderby=RunStartDate asc"
            f"&$filter=Status eq 'Successful' and RunStartDate ge {week_from}",
            100,
            check=only("Status", "Successful"),
        ),
        Case(
            "POST /getJobStatus {JobName}",
            "POST",
            f"{q}/getJobStatus",
            20,
            body={"JobName": name},
            check=status,
        ),
        # the floor: an authenticated request that reads nothing (auth, thread hop, DB session)
        Case(
            "GET /permissions (floor: auth only)",
            "GET",
            f"{q}/permissions",
            None,
            peer="Airflow GET /version",
        ),
        # the peer: Airflow's own REST API on the same data
        Case("Airflow GET /version", "GET", "/api/v2/version", None, auth="jwt"),
        Case("Airflow GET /dags/{id}", "GET", f"/api/v2/dags/{dag_id}", None, auth="jwt"),
        Case("Airflow GET /dags?limit=1000", "GET", "/api/v2/dags?limit=1000", None, auth="jwt"),
        Case(
            "Airflow GET /dags/~/dagRuns?limit=50",
            "GET",
            "/api/v2/dags/~/dagRuns?limit=50&order_by=-id",
            None,
            auth="jwt",
        ),
        Case(
            "Airflow GET /dags/~/dagRuns?state=failed",
            "GET",
            "/api/v2/dags/~/dagRuns?limit=50&order_by=-id&state=failed",
            None,
            auth="jwt",
        ),
    ]


def _measure(cases: list[Case], repeat: int, warmup: int) -> None:
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    from airflow_sync.api import tokens

    secret = tokens.create_token(f"bench-{os.getpid()}", "admin", created_by="bench")
    with TestClient(create_app(apps="core")) as client:
        r = client.post("/auth/token", json={"username": "admin", "password": "adminpw"})
        assert r.status_code == 201, r.text
        headers = {
            "token": {"x-cdata-authtoken": secret},
            "jwt": {"Authorization": f"Bearer {r.json()['access_token']}"},
        }
        for case in cases:
            for i in range(warmup + repeat):
                t0 = time.perf_counter()
                resp = client.request(case.method, case.path, headers=headers[case.auth], json=case.body)
                elapsed = (time.perf_counter() - t0) * 1000
                if resp.status_code != 200:
                    raise AssertionError(f"{case.label}: HTTP {resp.status_code} {resp.text[:500]}")
                if i == 0 and case.check is not None:
                    body = resp.json() if "json" in resp.headers.get("content-type", "") else resp.text
                    case.check(body)
                if i >= warmup:
                    case.times.append(elapsed)
            say(f"  {case.label:<52} median {case.median:8.1f} ms")


def _report(cases: list[Case], facts: dict[str, Any], load_before: str, load_after: str, args: Any) -> str:
    by_label = {c.label: c for c in cases}
    lines = [
        f"API at scale: {args.jobs} jobs, {facts['runs']} runs; PostgreSQL metadata DB; in-process ASGI "
        f"(TestClient, full middleware + auth); {args.repeat} timed requests each after {args.warmup} "
        "warm-up",
        f"before: {load_before}; after: {load_after}",
        "",
        f"| {'request':<52} | target | median | p90 | best | vs Airflow API |",
        f"|{'-' * 54}|-------:|-------:|----:|-----:|:---|",
    ]
    for c in cases:
        target = f"{c.target_ms:.0f} ms" if c.target_ms else "—"
        verdict = "" if not c.target_ms else (" ✓" if c.median <= c.target_ms else " ✗")
        peer = ""
        if c.peer and c.peer in by_label:
            other = by_label[c.peer]
            peer = f"{c.median / other.median:.2f}x {c.peer} ({other.median:.1f} ms)"
        timing = (f"{c.median:.1f} ms{verdict}", f"{c.p90:.1f}", f"{min(c.times):.1f}")
        cells = (c.label.ljust(52), target, *timing, peer)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _profiled(cases: list[Case], args: Any) -> None:
    """cProfile of the request's database work (it runs in a worker thread: ``in_session`` is wrapped)."""
    import cProfile
    import pstats

    from airflow_sync.api.services import common

    prof = cProfile.Profile()
    real = common.in_session

    def profiled(fn: Any, a: tuple = (), kw: dict | None = None) -> Any:
        return prof.runcall(real, fn, a, kw)

    common.in_session = profiled  # type: ignore[assignment]
    _measure(cases, args.repeat, args.warmup)
    pstats.Stats(prof, stream=OUT).sort_stats("cumulative").print_stats(50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per case (default 30)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the metadata database in place")
    parser.add_argument("--reuse", metavar="DB", help="measure the database a --keep run left (no seeding)")
    parser.add_argument("--profile", metavar="LABEL", help="cProfile the cases whose label contains LABEL")
    args = parser.parse_args(argv)

    from bench.endpoints import Endpoint, Workspace

    # Airflow logs to stdout (structlog binds it when airflow is imported, below): send it to the log file
    LOG.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout = open(LOG, "w", buffering=1)  # noqa: SIM115  # closed at exit
    say(f"Airflow's log: {LOG}")
    workspace = Workspace(keep=args.keep)
    try:
        home = Path(tempfile.mkdtemp(prefix="airflow_sync_bench_api_"))
        if args.reuse:
            saved = json.loads((LOG.parent / f"{args.reuse}.json").read_text())
            meta = Endpoint("postgres", args.reuse)
            _configure(home, _psycopg2(meta.url), saved["fernet_key"])
            facts = _reseed_facts(saved)
        else:
            from cryptography.fernet import Fernet

            meta = workspace.create("postgres", "apimeta")
            key = Fernet.generate_key().decode()
            _configure(home, _psycopg2(meta.url), key)
            say(f"metadata DB {meta.database}; seeding {args.jobs} jobs and {args.runs} runs ...")
            facts = _seed(args.jobs, args.runs)
            if args.keep:
                keep = {"fernet_key": key, "jobs": args.jobs, "runs": args.runs, "now": facts["now"]}
                (LOG.parent / f"{meta.database}.json").write_text(json.dumps(keep))
            say(
                f"  migrate {facts['migrate_s']} s, jobs {facts['create_jobs_s']} s, {facts['dags']} DAGs "
                f"parsed {facts['parse_dags_s']} s, runs {facts['write_runs_s']} s"
            )
        cases = _cases(args.jobs, facts)
        if args.profile:
            cases = [c for c in cases if args.profile in c.label]
        load_before = _load()
        if args.profile:
            _profiled(cases, args)
            return 0
        _measure(cases, args.repeat, args.warmup)
        report = _report(cases, facts, load_before, _load(), args)
        say("\n" + report)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "jobs": args.jobs,
                    "runs": facts["runs"],
                    "load_before": load_before,
                    "cases": [
                        {
                            "label": c.label,
                            "target_ms": c.target_ms,
                            "median_ms": round(c.median, 2),
                            "p90_ms": round(c.p90, 2),
                            "best_ms": round(min(c.times), 2),
                        }
                        for c in cases
                    ],
                    "python": sys.version.split()[0],
                },
                indent=2,
            )
            + "\n"
        )
        failed = [c.label for c in cases if c.target_ms and c.median > c.target_ms]
        say(
            f"\n{len(failed)} of {sum(1 for c in cases if c.target_ms)} targets missed"
            + (f": {failed}" if failed else "")
        )
        return 0
    finally:
        workspace.close()


if __name__ == "__main__":
    raise SystemExit(main())

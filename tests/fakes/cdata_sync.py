"""A local fake of a real CData Sync server's V1 Job API, replaying the response shapes recorded in
``research/cdata-sync-spec.md`` (§1.4-1.8, §7.1):

- action results in ``{"@odata.context": ".../$metadata#Collection(CData.executeJobOutput)", "value": [...]}``
  with ``Query: null`` job-level rows, upper-case ``SUCCESS`` and every scalar a string; no ``RunId``
  (real servers do not send one);
- history rows with ``Status: "Successful"`` and large-integer string ``Id``s, dates with a -05:00 offset;
- errors as ``{"error": {"code", "message"}}``; ``$filter`` on history answered with 400 when asked to
  (some real servers do that; CData's own client works around it).

Each job's run follows a scripted list of statuses: the execute answer is the first one (shown as RUNNING
when not waiting), every ``getJobStatus`` call moves one step, the last one sticks. Faults (``fail_next``,
``delay``) and the raw requests (``requests``) let tests see what a client sent and how it copes.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

EST = timezone(timedelta(hours=-5))
FINAL = {"SUCCESS", "FAILED", "CANCELLED", "SKIPPED"}
HISTORY_STATUS = {"SUCCESS": "Successful", "FAILED": "Failed", "CANCELLED": "Cancelled", "SKIPPED": "Skipped"}
_ids = itertools.count(1734567890123456789)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeJob:
    name: str
    queries: list[str]
    script: list[str] = field(default_factory=lambda: ["RUNNING", "SUCCESS"])
    error: str = "Table [Account] could not be replicated: permission denied"
    step: int = -1  # -1: never run
    history_row: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        if self.step < 0:
            return "NOT STARTED"
        return self.script[min(self.step, len(self.script) - 1)]


class FakeSyncServer:
    """``with FakeSyncServer(token="t0k") as fake: fake.url`` — a threaded server on 127.0.0.1."""

    def __init__(
        self, token: str = "fake-token", *, auth_modes: tuple[str, ...] = ("header", "basic")
    ) -> None:
        self.token = token
        self.auth_modes = auth_modes
        self.jobs: dict[str, FakeJob] = {}
        self.history: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.history_filter_fails = False
        self.delay = 0.0  # seconds every answer is held back (a slow or hanging server)
        self._faults: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeSyncServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # ------------------------------------------------------------------ scripting

    def add_job(self, name: str, queries: list[str], script: list[str] | None = None) -> FakeJob:
        job = FakeJob(name, list(queries), list(script or ["RUNNING", "SUCCESS"]))
        self.jobs[name] = job
        return job

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests get ``status`` with an error envelope."""
        with self._lock:
            self._faults.extend([(status, "Injected")] * count)

    def add_history(self, job: str, start: datetime, status: str = "Successful") -> dict[str, Any]:
        row = _history_row(self.jobs[job], start, status)
        self.history.append(row)
        return row

    def connection(self, *, login: str = "", **extra: Any) -> str:
        """An Airflow connection (JSON for ``AIRFLOW_CONN_<ID>``) of type ``cdata_sync`` pointing here."""
        extra.setdefault("retry_delay", 0)  # tests do not wait between retries
        conn = {"conn_type": "cdata_sync", "host": "127.0.0.1", "port": self.port, "password": self.token}
        return json.dumps({**conn, "login": login, "extra": extra})

    def calls(self, action: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.lower().endswith("/" + action.lower())]

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        body = json.loads(raw_body) if raw_body else None
        with self._lock:
            self.requests.append(Recorded(method, path, query, headers, body))
            if self._faults:
                status, code = self._faults.pop(0)
                return status, _error(code, "The server is temporarily unavailable.")
            if not self._authorized(headers):
                return 401, _error("Unauthorized", "Invalid authtoken or credentials.")
            if not path.lower().startswith("/api.rsc/"):
                return 404, _error("NotFound", f"Resource not found: {path}")
            return self._route(method, path[len("/api.rsc/") :], query, body or {})

    def _authorized(self, headers: dict[str, str]) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        if "header" in self.auth_modes and lower.get("x-cdata-authtoken") == self.token:
            return True
        auth = lower.get("authorization", "")
        if "basic" in self.auth_modes and auth.lower().startswith("basic "):
            user_pass = base64.b64decode(auth[6:]).decode()
            return user_pass.partition(":")[2] == self.token
        return False

    def _route(
        self, method: str, route: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any]:
        name = route.lower()
        if method == "GET" and name == "jobs":
            return 200, _envelope("jobs", [_job_entity(j) for j in self.jobs.values()])
        if method == "GET" and name.startswith("jobs("):
            key = route[5:-1].strip("'").replace("''", "'")
            if key not in self.jobs:
                return 404, _error("NotFound", f"Job '{key}' does not exist.")
            return 200, {
                "@odata.context": f"{self.url}/api.rsc/$metadata#jobs/$entity",
                **_job_entity(self.jobs[key]),
            }
        if method == "GET" and name == "history":
            if "$filter" in query and self.history_filter_fails:
                return 400, _error("InvalidFilter", "Filtering on this resource is not supported.")
            return 200, _envelope("history", list(self.history))
        if method != "POST":
            return 405, _error("MethodNotAllowed", f"{method} is not allowed on {route}.")
        job = self.jobs.get(str(body.get("JobName", "")))
        if job is None:
            return 400, _error("InvalidJob", f"The job '{body.get('JobName')}' does not exist.")
        if name in ("executejob", "executequery"):
            return self._execute(job, name, body)
        if name == "getjobstatus":
            return 200, self._status(job, str(body.get("PushOnQuery", "true")).lower() == "true")
        if name == "canceljob":
            if job.status in FINAL or job.step < 0:
                return 400, _error("JobNotRunning", f"The job '{job.name}' is not running.")
            job.script = [*job.script[: job.step + 1], "CANCELLED"]
            job.step += 1
            self._close_history(job)
            row = {"JobName": job.name, "Status": "CANCELLED"}
            return 200, _envelope("Collection(CData.cancelJobOutput)", [row])
        return 404, _error("NotFound", f"Unknown action {route}.")

    def _execute(self, job: FakeJob, action: str, body: dict[str, Any]) -> tuple[int, Any]:
        if job.step >= 0 and job.status not in FINAL:
            return 400, _error("JobRunning", f"The job '{job.name}' is already running.")
        if action == "executequery":
            wanted = [v for k, v in sorted(body.items()) if k.startswith("Query#")]
            unknown = [q for q in wanted if q not in job.queries]
            if unknown:
                return 400, _error("InvalidQuery", f"The query '{unknown[0]}' is not a task of the job.")
        job.step = 0
        job.history_row = _history_row(job, datetime.now(EST), "Running")
        self.history.append(job.history_row)
        context = f"Collection(CData.{'executeQuery' if action == 'executequery' else 'executeJob'}Output)"
        if str(body.get("WaitForResults", "true")).lower() == "true":
            job.step = len(job.script) - 1
            self._close_history(job)
            return 200, _envelope(context, self._rows(job, push=True))
        row = {**self._rows(job, push=False)[0], "Status": "RUNNING", "Detail": "Started"}
        return 200, _envelope(context, [row])

    def _status(self, job: FakeJob, push: bool) -> dict[str, Any]:
        if job.step >= 0 and job.status not in FINAL:
            job.step += 1
            if job.status in FINAL:
                self._close_history(job)
        return _envelope("Collection(CData.getJobStatusOutput)", self._rows(job, push=push))

    def _rows(self, job: FakeJob, *, push: bool) -> list[dict[str, Any]]:
        status = job.status
        start = job.history_row["RunStartDate"] if job.history_row else None
        detail = {"SUCCESS": "Completed", "FAILED": f"1 of {len(job.queries)} Tasks Failed"}.get(
            status, status
        )
        rows = [
            {
                "JobName": job.name,
                "Query": None,
                "Status": status,
                "Result": job.error if status == "FAILED" else None,
                "Detail": detail.title() if status == "RUNNING" else detail,
                "RunStartDate": start,
            }
        ]
        if push:
            for n, query in enumerate(job.queries):
                q_status = status
                if status == "FAILED":
                    q_status = "FAILED" if n == len(job.queries) - 1 else "SUCCESS"
                elif status == "RUNNING" and n == 0:
                    q_status = "SUCCESS"
                rows.append(
                    {
                        "JobName": job.name,
                        "Query": query,
                        "Status": q_status,
                        "Result": job.error if q_status == "FAILED" else None,
                        "Detail": "1200 records" if q_status == "SUCCESS" else None,
                        "RecordsAffected": "1200" if q_status == "SUCCESS" else "0",
                        "RunStartDate": start,
                    }
                )
        return rows

    def _close_history(self, job: FakeJob) -> None:
        if job.history_row is not None:
            job.history_row["Status"] = HISTORY_STATUS.get(job.status, "Failed")
            job.history_row["Details"] = (
                f"{len(job.queries)} of {len(job.queries)} Tasks {job.history_row['Status']}"
            )


def _history_row(job: FakeJob, start: datetime, status: str) -> dict[str, Any]:
    local = start.astimezone(EST) if start.tzinfo else start.replace(tzinfo=UTC).astimezone(EST)
    return {
        "Id": str(next(_ids)),
        "JobId": f"0f6c1d9e-0000-4000-8000-{abs(hash(job.name)) % 10**12:012d}",
        "JobName": job.name,
        "RunStartDate": local.isoformat(timespec="seconds"),
        "Status": status,
        "Details": "",
        "Runtime": "00:00:03",
        "RecordsAffected": "1200",
        "LogFile": f"{job.name}_{local:%Y-%m-%d_%H%M%S}.log",
        "InstanceId": "node-1",
    }


def _job_entity(job: FakeJob) -> dict[str, Any]:
    entity = {
        "JobId": f"0f6c1d9e-0000-4000-8000-{abs(hash(job.name)) % 10**12:012d}",
        "JobName": job.name,
        "Source": "Salesforce1",
        "Destination": "PostgreSQL1",
        "Status": job.status.title() if job.step >= 0 else "Not Started",
        "Scheduled": "False",
        "ScheduledCron": "",
        "Verbosity": "2",
        "Type": "Standard",
        "CanUpdate": "true",
        "CanRemove": "true",
        "CanExecute": "true",
    }
    entity.update({f"Query#{n}": q for n, q in enumerate(job.queries, start=1)})
    return entity


def _envelope(context: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@odata.context": f"http://localhost:8181/api.rsc/$metadata#{context}", "value": rows}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a request held back by ``delay`` must not hold up the test's teardown


def _handler(fake: FakeSyncServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if fake.delay:
                time.sleep(fake.delay)  # the server is slow: the client's timeout must fire
            status, payload = fake.handle(self.command, self.path, dict(self.headers.items()), raw)
            data = b"" if payload is None else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): nothing to answer

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

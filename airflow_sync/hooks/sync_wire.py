"""Wire rules shared by the sync and async Job API clients: connection settings, envelopes, errors, status
vocabulary and history filtering.

Nothing here does I/O or imports Airflow at module level, so the rules are tested once and both hooks (and
the triggers, which run in the triggerer) agree on them. They cover this project's API (job-api.md) and what
real CData Sync servers send (string scalars, ``Collection(CData.<action>Output)`` envelopes, upper-case
``SUCCESS`` in action rows but ``Successful`` in history rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_PATH = "/api.rsc"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0
TOKEN_HEADER = "x-cdata-authtoken"
AUTH_MODES = ("header", "basic")

#: connection extras this client reads itself; every other extra is sent as a header (HttpHook's rule)
OWN_EXTRAS = ("api_path", "auth_mode", "timeout", "retries", "retry_delay")
#: how the connection form names them when it stores them with the prefix
FORM_PREFIX = "extra__cdata_sync__"

# Final job-level states, in this client's vocabulary.
SUCCESS, FAILED, CANCELLED, SKIPPED = "success", "failed", "cancelled", "skipped"
RUNNING, QUEUED, NOT_STARTED, UNKNOWN = "running", "queued", "not_started", "unknown"
FINAL_STATES = frozenset({SUCCESS, FAILED, CANCELLED, SKIPPED})

# Both vocabularies: ours (job-api.md §4: NOT STARTED ... SKIPPED) and CData's (cdata-sync-spec §7.1: action
# rows say SUCCESS, history / console say Successful, Testing, In progress, Error...).
_STATUS_WORDS = {
    "SUCCESS": SUCCESS,
    "SUCCESSFUL": SUCCESS,
    "SUCCEEDED": SUCCESS,
    "COMPLETED": SUCCESS,
    "FAILED": FAILED,
    "FAILURE": FAILED,
    "ERROR": FAILED,
    "CANCELLED": CANCELLED,
    "CANCELED": CANCELLED,
    "ABORTED": CANCELLED,
    "SKIPPED": SKIPPED,
    "RUNNING": RUNNING,
    "IN PROGRESS": RUNNING,
    "INPROGRESS": RUNNING,
    "TESTING": RUNNING,
    "STARTING": RUNNING,
    "QUEUED": QUEUED,
    "PENDING": QUEUED,
    "NOT STARTED": NOT_STARTED,
    "NOTSTARTED": NOT_STARTED,
    "": NOT_STARTED,
}


class SyncApiError(Exception):
    """A Job API request failed: the server's error envelope, or no usable answer at all.

    :param message: the server's ``error.message`` (or a description of what went wrong)
    :param status: the HTTP status, None when no response arrived (connection error, timeout)
    :param code: the server's ``error.code`` (``JobRunning``, ``InvalidJob``...), if it sent one
    :param retry_after: the server's ``Retry-After`` header, if any (honoured by the retry loop)
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [str(self.status) if self.status is not None else "", self.code or ""]
        prefix = " ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message

    @property
    def retryable(self) -> bool:
        """Server-side or throttling failures that a later attempt may get past (never a 4xx but 429)."""
        if self.status is None:
            return True
        return self.status == 429 or (self.status >= 500 and self.status != 501)


@dataclass(frozen=True)
class ApiSettings:
    """Everything a client needs from an Airflow connection of type ``cdata_sync``."""

    base_url: str  # scheme://host[:port]/api-path, no trailing slash
    token: str | None
    auth_mode: str = "header"
    login: str = ""
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    headers: dict[str, str] = field(default_factory=dict)

    def auth_headers(self) -> dict[str, str]:
        """The token header in ``header`` mode (Basic auth is set on the session instead)."""
        if self.auth_mode == "header" and self.token:
            return {TOKEN_HEADER: self.token}
        return {}

    def basic_credentials(self) -> tuple[str, str] | None:
        """``(user, token)`` in ``basic`` mode; CData accepts any user name with the token as password."""
        if self.auth_mode == "basic" and self.token:
            return (self.login or "airflow", self.token)
        return None


def settings_from_connection(
    *,
    host: str | None,
    schema: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any],
) -> ApiSettings:
    """Build client settings from connection fields.

    ``host`` may be a bare host name or a URL. A URL that carries a path (``https://sync:8181/api.rsc``) keeps
    it; otherwise the path is ``extra["api_path"]`` (default ``/api.rsc``). A trailing ``/$oas`` is dropped,
    as CData's own client does with configured base URLs.

    :param extra: the connection's extra, parsed
    """
    extra = normalize_extra(extra)
    host = (host or "").strip()
    if not host:
        raise SyncApiError("the cdata_sync connection has no host")
    scheme = (schema or "http").strip() or "http"
    url = host if "://" in host else f"{scheme}://{host}"
    parts = urlsplit(url)
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if "api_path" in extra or not path:
        path = str(extra.get("api_path", DEFAULT_API_PATH) or "").rstrip("/")
    if path.lower().endswith("/$oas"):
        path = path[: -len("/$oas")]
    if path and not path.startswith("/"):
        path = "/" + path
    auth_mode = str(extra.get("auth_mode", "header") or "header").strip().lower()
    if auth_mode not in AUTH_MODES:
        raise SyncApiError(f"auth_mode must be one of {', '.join(AUTH_MODES)}, not {auth_mode!r}")
    headers = {str(k): str(v) for k, v in extra.items() if k not in OWN_EXTRAS and _is_header_extra(k, v)}
    return ApiSettings(
        base_url=f"{parts.scheme}://{netloc}{path}",
        token=password or None,
        auth_mode=auth_mode,
        login=login or "",
        timeout=_number(extra, "timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT,
        retries=int(_number(extra, "retries", DEFAULT_RETRIES)),
        retry_delay=_number(extra, "retry_delay", DEFAULT_RETRY_DELAY),
        headers=headers,
    )


def normalize_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The extra with form names (``extra__cdata_sync__api_path``) shortened and empty fields dropped."""
    out: dict[str, Any] = {}
    for key, value in extra.items():
        name = key[len(FORM_PREFIX) :] if key.startswith(FORM_PREFIX) else key
        if name in OWN_EXTRAS and (value is None or value == ""):
            continue  # an empty form field means "the default"
        out[name] = value
    return out


def _number(extra: Mapping[str, Any], name: str, default: float) -> float:
    try:
        value = float(extra.get(name, default))
    except (TypeError, ValueError):
        message = f"the connection extra {name!r} must be a number, not {extra.get(name)!r}"
        raise SyncApiError(message) from None
    return max(0.0, value)


# HttpHook options that travel in the extra but are not headers.
_HTTP_OPTIONS = {
    "stream",
    "cert",
    "proxies",
    "proxy",
    "verify",
    "verify_ssl",
    "allow_redirects",
    "max_redirects",
    "trust_env",
    "check_response",
    "srv_lookup",
}


def _is_header_extra(key: str, value: Any) -> bool:
    if key in _HTTP_OPTIONS or key.startswith("extra__"):
        return False
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def backoff_delay(attempt: int, base: float, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, or the server's Retry-After."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), 60.0)
        except ValueError:
            pass  # an HTTP date: fall back to our own backoff
    return min(base * (2**attempt), MAX_RETRY_DELAY)


def decode_body(status: int, text: str) -> Any:
    """JSON of a successful response (None for an empty body, e.g. 204)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SyncApiError(
            f"the server answered {status} with a body that is not JSON", status=status
        ) from exc


def error_from_response(
    status: int, text: str, reason: str = "", retry_after: str | None = None
) -> SyncApiError:
    """The server's ``{"error": {"code", "message"}}`` as an exception; a plain-text body as the message."""
    code: str | None = None
    message = ""
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    if isinstance(payload, Mapping):
        err = payload.get("error", payload)
        if isinstance(err, Mapping):
            code = str(err["code"]) if err.get("code") is not None else None
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
    if not message:
        message = text.strip()[:500] or reason or "request failed"
    return SyncApiError(message, status=status, code=code, retry_after=retry_after)


def unwrap(payload: Any) -> Any:
    """The ``value`` of an OData envelope; a bare entity or scalar as is."""
    if isinstance(payload, Mapping) and "value" in payload:
        return payload["value"]
    return payload


def rows_of(payload: Any) -> list[dict[str, Any]]:
    """Result rows of an action or collection: always a list of dicts."""
    value = unwrap(payload)
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [dict(value)]
    return [dict(r) for r in value if isinstance(r, Mapping)]


def normalize_status(value: Any) -> str:
    """Map any server's status word to ``success|failed|cancelled|skipped|running|queued|not_started``."""
    word = " ".join(str(value or "").replace("_", " ").split()).upper()
    return _STATUS_WORDS.get(word, UNKNOWN)


def is_job_row(row: Mapping[str, Any]) -> bool:
    """The job-level row of a result has no query (``Query: null``)."""
    return not str(row.get("Query") or "").strip()


def job_state(rows: Iterable[Mapping[str, Any]], job_name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The job-level state of a getJobStatus / executeJob answer, and the row it comes from.

    Servers that send no job-level row get one derived from the per-query rows: any failed query fails the
    job, any running one keeps it running, all successful (or skipped) make it successful.
    """
    rows = [r for r in rows if job_name is None or not r.get("JobName") or r.get("JobName") == job_name]
    for row in rows:
        if is_job_row(row):
            return normalize_status(row.get("Status")), dict(row)
    states = [normalize_status(r.get("Status")) for r in rows]
    if not states:
        return NOT_STARTED, {}
    for state in (FAILED, CANCELLED, RUNNING, QUEUED, UNKNOWN, NOT_STARTED):
        if state in states:
            break
    else:
        state = SUCCESS if SUCCESS in states else SKIPPED
    first_error = next((r.get("Result") for r in rows if r.get("Result")), None)
    return state, {"JobName": job_name, "Query": None, "Status": state.upper(), "Result": first_error}


def is_same_run(job_row: Mapping[str, Any], run_id: str | None, run_start: str | None) -> bool:
    """Whether a status row belongs to the run started with ``run_id`` / at ``run_start``.

    Right after an execute call, some servers still report the previous, finished run; taking its outcome for
    the new run's would end a wait at once. The run id decides when both sides have one (this API does; CData
    does not send one); else a row that started before the new run is an older run.
    """
    row_run_id = job_row.get("RunId")
    if run_id and row_run_id:
        return str(row_run_id) == str(run_id)
    started = parse_instant(run_start)
    row_start = parse_instant(job_row.get("RunStartDate"))
    return started is None or row_start is None or row_start >= started


def failure_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """What went wrong: each failed query's ``Result`` (error text), then the job-level error and Detail."""
    rows = list(rows)
    texts: list[str] = []
    bad = [r for r in rows if normalize_status(r.get("Status")) not in (SUCCESS, SKIPPED)]
    for row in bad:
        error = str(row.get("Result") or "").strip()
        if error and not is_job_row(row):
            texts.append(f"{row.get('Query')}: {error}")
    for row in bad:
        for key in ("Result", "Detail"):
            text = str(row.get(key) or "").strip()
            if is_job_row(row) and text and not any(text in t for t in texts):
                texts.append(text)
    return "; ".join(texts)


def parse_instant(value: Any) -> datetime | None:
    """An ISO date/datetime (``Z`` or offset; naive taken as UTC) as an aware datetime, else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def odata_quote(text: str) -> str:
    """An OData string literal (``'`` doubled)."""
    return "'" + text.replace("'", "''") + "'"


def history_query(job_name: str | None, since: datetime | None, top: int | None) -> dict[str, str]:
    """``$filter`` / ``$orderby`` / ``$top`` for a history request, newest runs first."""
    clauses = []
    if job_name:
        clauses.append(f"JobName eq {odata_quote(job_name)}")
    if since is not None:
        clauses.append(f"RunStartDate ge {since.astimezone(UTC).isoformat()}")
    params = {"$orderby": "RunStartDate desc"}
    if clauses:
        params["$filter"] = " and ".join(clauses)
    if top is not None:
        params["$top"] = str(int(top))
    return params


def filter_history(
    rows: Iterable[Mapping[str, Any]], job_name: str | None, since: datetime | None, top: int | None
) -> list[dict[str, Any]]:
    """Client-side history filtering, newest first — for servers whose ``$filter`` fails or is ignored."""
    kept = []
    for row in rows:
        if job_name and row.get("JobName") != job_name:
            continue
        start = parse_instant(row.get("RunStartDate"))
        if since is not None and (start is None or start < since):
            continue
        kept.append(dict(row))
    floor = datetime.min.replace(tzinfo=UTC)
    kept.sort(key=lambda r: parse_instant(r.get("RunStartDate")) or floor, reverse=True)
    return kept[:top] if top is not None else kept


def execute_body(
    job_name: str, *, queries: Iterable[str] | None, wait: bool, timeout: int
) -> tuple[str, dict[str, str]]:
    """The action and its body for executeJob / executeQuery, scalars as strings as CData's client sends."""
    body = {"JobName": job_name, "WaitForResults": "true" if wait else "false", "Timeout": str(int(timeout))}
    query_list = list(queries or [])
    if not query_list:
        return "executeJob", body
    body.update({f"Query#{n}": q for n, q in enumerate(query_list, start=1)})
    return "executeQuery", body


def as_bool_string(value: bool) -> str:
    return "true" if value else "false"

"""``cdata_sync`` connections: a client of the CData Sync V1 Job Management API (``/api.rsc``).

The same client speaks to this project's API (job-api.md) and to a real CData Sync server. The connection
holds the base URL (host, scheme, port; path ``/api.rsc`` unless the extra's ``api_path`` says otherwise) and
the API token as its password. The token travels as ``x-cdata-authtoken`` (extra ``auth_mode: header``, the
default) or as the password of HTTP Basic auth (``auth_mode: basic``, user name = the connection's login).

Other extras: ``timeout`` (seconds per request, default 60), ``retries`` (default 3) and ``retry_delay``
(seconds, doubled after each attempt; default 1). 5xx (but 501), 429 and connection errors are retried;
4xx answers are not: they raise :class:`SyncApiError` at once with the server's message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from airflow.providers.http.hooks.http import HttpHook
from requests.auth import HTTPBasicAuth

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_wire import SyncApiError

__all__ = ["SyncApiError", "SyncApiHook"]


class SyncApiHook(HttpHook):
    """Call a CData Sync-compatible Job API.

    :param sync_conn_id: an Airflow connection of type ``cdata_sync``
    :param timeout: seconds per request (overrides the connection's ``timeout`` extra)
    :param retries: attempts after the first one on 5xx/429/connection errors (overrides the extra)
    :param retry_delay: seconds before the first retry, doubled each time (overrides the extra)
    """

    conn_name_attr = "sync_conn_id"
    default_conn_name = "cdata_sync_default"
    conn_type = "cdata_sync"
    hook_name = "CData Sync Job API"

    def __init__(
        self,
        sync_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(method="GET", http_conn_id=sync_conn_id)
        self.sync_conn_id = sync_conn_id
        self._timeout = timeout
        self._retries = retries
        self._retry_delay = retry_delay
        self._api: wire.ApiSettings | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form for Airflow versions that read it from the hook (3.3 reads the provider info)."""
        from airflow_sync.hooks.provider_info import UI_FIELD_BEHAVIOUR

        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    # ------------------------------------------------------------------ connection -> session

    @property
    def api(self) -> wire.ApiSettings:
        """Settings read from the connection (once per hook)."""
        if self._api is None:
            conn = self.get_connection(self.sync_conn_id)
            api = wire.settings_from_connection(
                host=conn.host,
                schema=conn.schema,
                port=conn.port,
                login=conn.login,
                password=conn.password,
                extra=conn.extra_dejson,
            )
            overrides: dict[str, Any] = {}
            if self._timeout is not None:
                overrides["timeout"] = float(self._timeout)
            if self._retries is not None:
                overrides["retries"] = max(0, int(self._retries))
            if self._retry_delay is not None:
                overrides["retry_delay"] = max(0.0, float(self._retry_delay))
            self._api = wire.ApiSettings(**{**api.__dict__, **overrides}) if overrides else api
        return self._api

    def _set_base_url(self, connection: Any) -> None:
        # HttpHook builds scheme://host:port; ours adds the API path and the $oas rule.
        self.base_url = self.api.base_url
        self._srv_lookup_enabled = False
        self._base_url_initialized = True

    def _extract_auth(self, connection: Any) -> Any | None:
        creds = self.api.basic_credentials()
        return HTTPBasicAuth(*creds) if creds else None

    def _configure_session_from_extra(
        self, session: requests.Session, connection: Any, extra_options: dict[str, Any]
    ) -> requests.Session:
        session = super()._configure_session_from_extra(session, connection, extra_options)
        # HttpHook sends every extra as a header; ours are settings (and non-string values break requests):
        # keep only the extras that ApiSettings accepted as headers.
        extra_keys = set(connection.extra_dejson)
        for key in list(session.headers):
            if key in extra_keys:
                del session.headers[key]
        session.headers.update(self.api.headers)
        session.headers.update(self.api.auth_headers())
        session.headers["Accept"] = "application/json"
        return session

    # ------------------------------------------------------------------ one request, with retries

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON (None for an empty body).

        :param method: ``GET``, ``POST``, ``PUT`` or ``DELETE``
        :param endpoint: path below the API root, e.g. ``executeJob`` or ``jobs('X')``
        :param params: query-string parameters (``$filter``...)
        :param body: JSON body
        :param timeout: seconds for this request (None: the connection's timeout; 0: no limit)
        :raises SyncApiError: the server refused (4xx at once, 5xx/429 after the retries) or was unreachable
        """
        api = self.api
        read_timeout = api.timeout if timeout is None else (timeout or None)
        attempt = 0
        while True:
            try:
                return self._send_once(method, endpoint, params=params, body=body, timeout=read_timeout)
            except SyncApiError as exc:
                if not exc.retryable or attempt >= api.retries:
                    raise
                delay = wire.backoff_delay(attempt, api.retry_delay, exc.retry_after)
                self.log.warning(
                    "Sync API %s %s failed (%s); retry %d of %d in %.1fs",
                    method,
                    endpoint,
                    exc,
                    attempt + 1,
                    api.retries,
                    delay,
                )
                time.sleep(delay)
                attempt += 1

    def _send_once(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        timeout: float | None,
    ) -> Any:
        self.method = method.upper()
        extra_options = {"check_response": False, "timeout": timeout}
        try:
            if self.method == "GET":
                response = self.run(endpoint, data=params, extra_options=extra_options)
            else:
                response = self.run(endpoint + _query_string(params), json=body, extra_options=extra_options)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SyncApiError(f"could not reach {self.api.base_url}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise wire.error_from_response(
                response.status_code,
                response.text,
                response.reason or "",
                response.headers.get("Retry-After"),
            )
        return wire.decode_body(response.status_code, response.text)

    # ------------------------------------------------------------------ Job API methods

    def execute_job(
        self,
        job_name: str,
        *,
        queries: Iterable[str] | None = None,
        wait: bool = False,
        timeout: int = 0,
    ) -> list[dict[str, Any]]:
        """Start a run of ``job_name`` (``executeQuery`` when ``queries`` are given: only those run).

        :param queries: a subset of the job's queries, as their REPLICATE text
        :param wait: hold the request until the run ends (``WaitForResults``); else return once it is queued
        :param timeout: with ``wait``, seconds the server waits at most (0 = until the end)
        :return: the result rows: a job-level row (``Query: None``) and, when waiting, one per query
        """
        action, body = wire.execute_body(job_name, queries=queries, wait=wait, timeout=timeout)
        request_timeout = None
        if wait:
            request_timeout = 0.0 if not timeout else float(timeout) + self.api.timeout
        return wire.rows_of(self.request("POST", action, body=body, timeout=request_timeout))

    def get_job_status(self, job_name: str, push_on_query: bool = True) -> list[dict[str, Any]]:
        """The latest run of ``job_name``: its job-level row, then one row per query (``push_on_query``)."""
        body = {"JobName": job_name, "PushOnQuery": wire.as_bool_string(push_on_query)}
        return wire.rows_of(self.request("POST", "getJobStatus", body=body))

    def cancel_job(self, job_name: str) -> list[dict[str, Any]]:
        """Cancel the running run of ``job_name``.

        :raises SyncApiError: e.g. 409 ``JobNotRunning`` (this API) or a 400 (CData) when nothing runs
        """
        return wire.rows_of(self.request("POST", "cancelJob", body={"JobName": job_name}))

    def history(
        self, job_name: str | None = None, *, since: datetime | None = None, top: int | None = None
    ) -> list[dict[str, Any]]:
        """History rows, newest first, optionally of one job and of runs started at or after ``since``.

        Some CData Sync versions answer ``$filter`` on history with an error; then the whole history is read
        and filtered here, as CData's own client does. Rows are always filtered again client-side, so a server
        that ignores ``$filter`` gives the same answer.
        """
        since = wire.parse_instant(since) if since is not None else None
        try:
            payload = self.request("GET", "history", params=wire.history_query(job_name, since, top))
        except SyncApiError as exc:
            if exc.status not in (400, 404, 500, 501):
                raise
            self.log.info("history $filter refused (%s); filtering client-side", exc.status)
            payload = self.request("GET", "history")
        return wire.filter_history(wire.rows_of(payload), job_name, since, top)

    def get_job(self, name: str) -> dict[str, Any]:
        """One job's fields (``Query#1..n`` included). :raises SyncApiError: 404 for an unknown job."""
        payload = self.request("GET", f"jobs({wire.odata_quote(name)})")
        value = wire.unwrap(payload)
        if isinstance(value, list):  # servers that answer the key form with a collection
            if not value:
                raise SyncApiError(f"job {name!r} not found", status=404, code="NotFound")
            value = value[0]
        return {k: v for k, v in dict(value).items() if not k.startswith("@odata")}

    def list_jobs(self) -> list[dict[str, Any]]:
        """All jobs of the (default) workspace."""
        return wire.rows_of(self.request("GET", "jobs"))

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: list the jobs with the configured token."""
        try:
            jobs = self.list_jobs()
        except Exception as exc:  # the UI shows any failure as text
            return False, str(exc)
        return True, f"Connected: {len(jobs)} job(s) visible"


def _query_string(params: dict[str, str] | None) -> str:
    if not params:
        return ""
    return "?" + "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())

"""The asynchronous ``cdata_sync`` client used by the triggers (which run on the triggerer's event loop).

Built on the http provider's :class:`HttpAsyncHook` (aiohttp sessions); the connection is read with the
provider's async helpers so that no synchronous supervisor call blocks the loop. Same settings, errors and
retry rules as :class:`~airflow_sync.hooks.sync_api.SyncApiHook` (shared in :mod:`sync_wire`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.http.hooks.http import HttpAsyncHook, SessionConfig

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_wire import SyncApiError

__all__ = ["SyncApiAsyncHook", "SyncApiError"]


class SyncApiAsyncHook(HttpAsyncHook):
    """Asynchronous calls to a CData Sync-compatible Job API (status and history polling).

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
        # Retries are ours (they also cover 429 and connection errors), so the provider's loop runs once.
        super().__init__(method="GET", http_conn_id=sync_conn_id, retry_limit=1)
        self.sync_conn_id = sync_conn_id
        self._overrides: dict[str, Any] = {}
        if timeout is not None:
            self._overrides["timeout"] = float(timeout)
        if retries is not None:
            self._overrides["retries"] = max(0, int(retries))
        if retry_delay is not None:
            self._overrides["retry_delay"] = max(0.0, float(retry_delay))
        self._api: wire.ApiSettings | None = None

    async def api_settings(self) -> wire.ApiSettings:
        """Settings read from the connection (once per hook)."""
        if self._api is None:
            conn = await get_async_connection(conn_id=self.sync_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            api = wire.settings_from_connection(
                host=conn.host,
                schema=conn.schema,
                port=conn.port,
                login=conn.login,
                password=conn.password,
                extra=extra,
            )
            self._api = wire.ApiSettings(**{**api.__dict__, **self._overrides}) if self._overrides else api
        return self._api

    async def config(self) -> SessionConfig:
        if self._config is None:
            api = await self.api_settings()
            creds = api.basic_credentials()
            self._config = SessionConfig(
                base_url=api.base_url,
                headers={"Accept": "application/json", **api.headers, **api.auth_headers()},
                auth=aiohttp.BasicAuth(*creds) if creds else None,
                extra_options={},
            )
        return self._config

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON; retries like the sync hook.

        :raises SyncApiError: the server refused (4xx at once, 5xx/429 after the retries) or was unreachable
        """
        api = await self.api_settings()
        attempt = 0
        while True:
            try:
                return await self._send_once(method, endpoint, params=params, body=body, timeout=api.timeout)
            except SyncApiError as exc:
                if not exc.retryable or attempt >= api.retries:
                    raise
                delay = wire.backoff_delay(attempt, api.retry_delay, exc.retry_after)
                self.log.warning(
                    "Sync API %s %s failed (%s); retrying in %.1fs", method, endpoint, exc, delay
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def _send_once(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        timeout: float,
    ) -> Any:
        options = {"check_response": False, "timeout": aiohttp.ClientTimeout(total=timeout or None)}
        try:
            async with self.session(method=method.upper()) as http:
                response = await http.run(
                    endpoint=endpoint,
                    data=params if method.upper() == "GET" else None,
                    json=body,
                    extra_options=options,
                )
                text = await response.text()
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            api = await self.api_settings()
            raise SyncApiError(f"could not reach {api.base_url}: {type(exc).__name__}") from exc
        if response.status >= 400:
            raise wire.error_from_response(
                response.status, text, response.reason or "", response.headers.get("Retry-After")
            )
        return wire.decode_body(response.status, text)

    async def get_job_status(self, job_name: str, push_on_query: bool = True) -> list[dict[str, Any]]:
        """The latest run of ``job_name``: its job-level row, then one row per query (``push_on_query``)."""
        body = {"JobName": job_name, "PushOnQuery": wire.as_bool_string(push_on_query)}
        return wire.rows_of(await self.request("POST", "getJobStatus", body=body))

    async def cancel_job(self, job_name: str) -> list[dict[str, Any]]:
        """Cancel the running run of ``job_name`` (:raises SyncApiError: when nothing runs)."""
        return wire.rows_of(await self.request("POST", "cancelJob", body={"JobName": job_name}))

    async def history(
        self, job_name: str | None = None, *, since: datetime | None = None, top: int | None = None
    ) -> list[dict[str, Any]]:
        """History rows, newest first; falls back to client-side filtering like the sync hook."""
        since = wire.parse_instant(since) if since is not None else None
        try:
            payload = await self.request("GET", "history", params=wire.history_query(job_name, since, top))
        except SyncApiError as exc:
            if exc.status not in (400, 404, 500, 501):
                raise
            payload = await self.request("GET", "history")
        return wire.filter_history(wire.rows_of(payload), job_name, since, top)

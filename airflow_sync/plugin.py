"""The Airflow plugin: mounts the Job Management API at ``/api.rsc`` on the api-server (design D2).

Every Airflow component imports plugins, task processes included, so this module imports nothing heavy:
the FastAPI app is built on first access of ``fastapi_apps`` and only in the api-server process
(``airflow api-server``, as edge3 does), or when ``AIRFLOW_SYNC_FORCE_API=1`` (tests building the app with
``create_app(apps="core")``), and only when ``[airflow_sync] api_enabled`` is on.

No ``from __future__ import annotations`` here (research §1: FastAPI cannot resolve string annotations of
dependencies declared in plugin modules).
"""

import logging
import os
import sys
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/api.rsc"
FORCE_ENV = "AIRFLOW_SYNC_FORCE_API"


def serves_api() -> bool:
    """True in the process that should serve ``/api.rsc`` (api-server, or forced) when the API is on."""
    forced = os.environ.get(FORCE_ENV, "").strip().lower() in ("1", "true", "yes")
    on_api_server = len(sys.argv) > 1 and sys.argv[1] == "api-server"
    if not (forced or on_api_server):
        return False
    from airflow_sync import settings

    return settings.get_bool("api_enabled")


class _LazyFastAPIApps:
    """Class-level descriptor: builds the app list on first read, in whichever process reads it.

    Airflow reads ``plugin.fastapi_apps`` from the plugin class (provider plugins) or an instance (entry
    points), in ``init_plugins`` on the api-server and in ``airflow plugins``. Deciding at read time keeps
    the import free of FastAPI and lets tests set ``AIRFLOW_SYNC_FORCE_API`` after importing Airflow.
    """

    def __init__(self) -> None:
        self._apps: list[dict[str, Any]] | None = None

    def __get__(self, obj: Any, objtype: Any = None) -> list[dict[str, Any]]:
        if self._apps is None:
            if not serves_api():
                return []  # not cached: a later read in a forced/test context may still build it
            from airflow_sync.api.app import create_api_app

            self._apps = [
                {"app": create_api_app(), "url_prefix": URL_PREFIX, "name": "airflow_sync Job Management API"}
            ]
            log.info("airflow_sync: Job Management API mounted at %s", URL_PREFIX)
        return self._apps

    def reset(self) -> None:
        """Forget the built app (tests that rebuild Airflow's app with different settings)."""
        self._apps = None


#: the Sync Jobs page in Airflow's nav. URLs are relative: Airflow's UI resolves them against its <base href>,
#: so a deployment under a sub-path (``[api] base_url``) and any host name the browser uses both work, and the
#: bundle is fetched same-origin with the session cookie (the route requires a signed-in user).
REACT_APPS: list[dict[str, Any]] = [
    {
        "name": "Sync Jobs",
        "bundle_url": f"{URL_PREFIX.lstrip('/')}/ui/sync-jobs.umd.cjs",
        "destination": "nav",
        "url_route": "sync-jobs",
        "icon": f"{URL_PREFIX.lstrip('/')}/ui/icon.svg",
        "icon_dark_mode": f"{URL_PREFIX.lstrip('/')}/ui/icon-dark.svg",
    }
]


class _LazyRootMiddlewares:
    """Class-level descriptor: the root middleware that routes ``/api.rsc`` paths a mount cannot match to
    the API app (:class:`airflow_sync.api.app.PrefixCatchMiddleware`), where the API is served."""

    def __get__(self, obj: Any, objtype: Any = None) -> list[dict[str, Any]]:
        if not serves_api():
            return []
        from airflow_sync.api.app import PrefixCatchMiddleware

        return [
            {
                "middleware": PrefixCatchMiddleware,
                "args": [],
                "kwargs": {"prefix": URL_PREFIX},
                "name": "airflow_sync /api.rsc error envelope for unmatched paths",
            }
        ]


class AirflowSyncPlugin(AirflowPlugin):
    """airflow_sync's plugin: the ``/api.rsc`` FastAPI app (api-server only) and the Sync Jobs page."""

    name = "airflow_sync"
    fastapi_apps = _LazyFastAPIApps()  # type: ignore[assignment]
    react_apps = REACT_APPS
    fastapi_root_middlewares = _LazyRootMiddlewares()  # type: ignore[assignment]

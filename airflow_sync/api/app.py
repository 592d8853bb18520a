"""The FastAPI app served at ``/api.rsc`` (job-api §1, §4): routers, error envelope, CData routing quirks.

Built by :func:`create_api_app` only in the api-server process (see :mod:`airflow_sync.plugin`). The
resource routers (``routes/jobs.py``, ``actions.py``, ``history.py``, ``logs.py``) are included when their
modules exist; once a module exists, importing it must work — an ImportError there is a bug and surfaces.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from airflow_sync import __version__
from airflow_sync.api.errors import install_error_handlers

log = logging.getLogger(__name__)

#: resource routers owned by the resources engineer, included when present (each exposes ``router``)
RESOURCE_ROUTERS: tuple[str, ...] = (
    "airflow_sync.api.routes.jobs",
    "airflow_sync.api.routes.actions",
    "airflow_sync.api.routes.history",
    "airflow_sync.api.routes.logs",
    "airflow_sync.api.routes.connections",
    "airflow_sync.api.routes.connection_actions",
    "airflow_sync.api.routes.tasks",
)
#: platform routers (this module's owner)
PLATFORM_ROUTERS: tuple[str, ...] = (
    "airflow_sync.api.routes.tokens",
    "airflow_sync.api.routes.meta",
    "airflow_sync.api.routes.ui",  # the Sync Jobs page: bundle, icons, its small read actions
)

#: alternative spellings CData clients use for an action (lower-case) -> canonical first path segment
ALIASES: dict[str, str] = {"getjoblog": "getLogs", "getlog": "getLogs", "getjoblogs": "getLogs"}

_SEGMENT_NAME = re.compile(r"^([^(]*)(.*)$", re.DOTALL)

DESCRIPTION = (
    "CData Sync V1-compatible Job Management API served by the airflow_sync provider on Airflow's "
    "api-server. Authenticate with an Airflow JWT (`Authorization: Bearer`, from `POST /auth/token`) or "
    "an API token (`x-cdata-authtoken` header, or HTTP Basic with the token as the password). Errors "
    'are `{"error": {"code", "message", "target"?, "position"?, "details"?}}`: `target` names the field '
    "(`Query#2`, `ScheduledCron`, `$filter`), `position` the 0-based character offset of a parse error, "
    "`details` every problem when there were several. Request scalars may be JSON values or CData's "
    'strings (`"True"`, `"500"`); responses send every scalar as a string. Field names in bodies are '
    "matched case-insensitively."
)


class CaseInsensitivePaths:
    """Rewrite the first path segment to its canonical spelling before routing.

    ``/EXECUTEJOB``, ``/executejob`` -> ``/executeJob``; ``/Jobs('x')`` -> ``/jobs('x')``; ``/getJobLog`` ->
    ``/getLogs``. The canonical names are read from the app's routes on first use, so any router added
    later is covered too. Only the entity-set / action name is touched, never a key or sub-path.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._names: dict[str, str] | None = None

    def names(self) -> dict[str, str]:
        if self._names is None:
            names: dict[str, str] = {}
            for route in self.fastapi_app.routes:
                if isinstance(route, APIRoute | Route):
                    first = route.path.lstrip("/").split("/", 1)[0]
                    name = re.split(r"[({]", first, maxsplit=1)[0]
                    if name:
                        names.setdefault(name.lower(), name)
            for alias, target in ALIASES.items():
                names.setdefault(alias, target)
            self._names = names
        return self._names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: Scope) -> Scope:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        # Starlette >= 0.35 keeps the full path and routes on path minus root_path
        prefix = root if root and path.startswith(root) else ""
        route_path = path[len(prefix) :]
        if not route_path.startswith("/"):
            return scope
        first, sep, rest = route_path[1:].partition("/")
        match = _SEGMENT_NAME.match(first)
        if not match:
            return scope
        name, key = match.groups()
        canonical = self.names().get(name.lower())
        if canonical is None or canonical == name:
            return scope
        new_scope = dict(scope)
        new_scope["path"] = f"{prefix}/{canonical}{key}{sep}{rest}"
        return new_scope


def _include_routers(app: FastAPI) -> list[str]:
    included = []
    for module_name in (*RESOURCE_ROUTERS, *PLATFORM_ROUTERS):
        if importlib.util.find_spec(module_name) is None:
            log.debug("airflow_sync API: %s not present, skipped", module_name)
            continue
        module = importlib.import_module(module_name)  # errors inside an existing module must surface
        app.include_router(module.router)
        included.append(module_name)
    return included


def create_api_app() -> FastAPI:
    """Build the ``/api.rsc`` app: routers, error envelope, case-insensitive names, OpenAPI at
    ``/openapi.json`` and ``/$oas`` (authenticated, like every endpoint), ``$metadata``.
    """
    app = FastAPI(
        title="airflow_sync Job Management API",
        description=DESCRIPTION,
        version=__version__,
        # served by routes/meta.py behind authentication instead
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    app.state.included_routers = _include_routers(app)
    app.add_middleware(CaseInsensitivePaths, fastapi_app=app)
    app.openapi = _openapi_factory(app)  # type: ignore[method-assign]
    return app


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: its endpoint function's name in camelCase (``list_jobs`` -> ``listJobs``).

    Stable and readable, because the UI's TypeScript client is generated from them: renaming an endpoint
    function renames a client method.
    """
    head, *rest = route.name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _openapi_factory(app: FastAPI):
    """OpenAPI document: the routes, the named schemas of :mod:`airflow_sync.api.models`, and the three
    ways to authenticate as security schemes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        from airflow_sync.api.models import SCHEMAS

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(SCHEMAS)
        components["securitySchemes"] = {
            "AirflowJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "CDataAuthToken": {"type": "apiKey", "in": "header", "name": "x-cdata-authtoken"},
            "BasicToken": {"type": "http", "scheme": "basic"},
        }
        schema["security"] = [{"AirflowJWT": []}, {"CDataAuthToken": []}, {"BasicToken": []}]
        app.openapi_schema = schema
        return schema

    return openapi


class PrefixCatchMiddleware:
    """A root middleware of Airflow's app: requests under ``/api.rsc`` that its ``Mount`` cannot match reach
    this API anyway, so they too get the error envelope instead of Airflow's ``{"detail": ...}`` or UI page.

    Starlette's mount pattern is ``^/api\\.rsc/(?P<path>.*)$``: ``.`` stops at a line break, so a key with
    an encoded newline (``/api.rsc/jobs(J%0A)``) fell through to Airflow's 404; the bare ``/api.rsc`` fell
    to the UI's catch-all route. Both are handed to the API app with the scope a mount would give it.

    :param app: the next ASGI app
    :param prefix: the API's mount prefix
    """

    def __init__(self, app: ASGIApp, prefix: str = "/api.rsc") -> None:
        self.app = app
        self.prefix = prefix

    def _escapes_mount(self, route_path: str) -> bool:
        return route_path == self.prefix or (route_path.startswith(self.prefix + "/") and "\n" in route_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            from starlette._utils import get_route_path

            if self._escapes_mount(get_route_path(scope)):
                api = _api_app()
                if api is not None:
                    root = scope.get("root_path", "")
                    child = {
                        **scope,
                        "app_root_path": scope.get("app_root_path", root),
                        "root_path": root + self.prefix,
                        "path_params": {},
                    }
                    await api(child, receive, send)
                    return
        await self.app(scope, receive, send)


def _api_app() -> ASGIApp | None:
    """The API app the plugin mounted, or None when this process does not serve it."""
    from airflow_sync.plugin import AirflowSyncPlugin

    apps = AirflowSyncPlugin.fastapi_apps
    return apps[0]["app"] if apps else None

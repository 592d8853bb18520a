"""Who is calling and what they may do (job-api §2).

Credentials are taken in this order, the first one present decides who the caller is; every credential
the request carries must be valid (a wrong one is a 401, even beside a good one — we never fall through):

1. ``Authorization: Bearer <JWT>`` issued by Airflow (``POST /auth/token``), validated by the configured
   auth manager. A bearer value that is not a JWT (no dots) is tried as an API token, since some HTTP
   tools put any token there.
2. ``x-cdata-authtoken: <token>``.
3. ``Authorization: Basic`` with the token as the password (the user name is ignored).
4. ``?@authtoken=<token>`` only when ``[airflow_sync] allow_authtoken_in_url`` is on (ignored otherwise).
5. Airflow's UI session cookie (``_token``, HttpOnly, set by Airflow's login). Any GET/HEAD, so a logged-in
   browser can read ``/docs`` and the OpenAPI document. A write with only the cookie is accepted solely from
   the Sync Jobs page (:data:`UI_HEADER`) and from this origin (:func:`same_origin`): a cross-site form or
   script cannot set a custom header without a CORS preflight that the api-server does not grant, and a
   same-site page on another port is refused by the Origin check. Anything else is a 401 (CSRF).

Authorization of JWT users is delegated to Airflow's auth manager at DAG level (see
:data:`JWT_CHECKS`); tokens use the fixed role table :data:`ROLE_ACTIONS`. The ``admin`` action (token
management) is granted to JWT users whom the auth manager lets create both Variables and Connections:
jobs are stored in Variables and reference Connections, so such a user can already do everything a token
could. With the simple auth manager that is the ``op`` and ``admin`` roles; with FAB, Op and Admin.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from airflow_sync import settings
from airflow_sync.api.errors import ApiError

if TYPE_CHECKING:
    from airflow_sync.api.tokens import TokenRecord

log = logging.getLogger(__name__)

Action = Literal["read", "edit", "run", "cancel", "admin"]
ACTIONS: tuple[str, ...] = ("read", "edit", "run", "cancel", "admin")

#: what each API-token role may do (job-api §2)
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "job_creator": frozenset({"read", "edit", "run"}),
    "standard": frozenset({"read", "run"}),
    "support": frozenset({"read", "cancel"}),
    "viewer": frozenset({"read"}),
}

#: action -> (method, DagAccessEntity name or None) passed to ``auth_manager.is_authorized_dag``
JWT_CHECKS: dict[str, tuple[Literal["GET", "POST", "PUT", "DELETE"], str | None]] = {
    "read": ("GET", None),
    "edit": ("PUT", None),
    "run": ("POST", "RUN"),
    "cancel": ("PUT", "RUN"),
}

WWW_AUTHENTICATE = 'Bearer realm="api.rsc", Basic realm="api.rsc"'
COOKIE_METHODS = frozenset({"GET", "HEAD"})
#: the header the Sync Jobs page sends on every call; with it a cookie-only write is considered (CSRF guard)
UI_HEADER = "x-airflow-sync-ui"

_ACTION_WORDS = {
    "read": "read",
    "edit": "create, modify or delete",
    "run": "run",
    "cancel": "cancel",
    "admin": "administer",
}


def unauthorized(message: str) -> ApiError:
    """401 in the envelope, with the challenge header HTTP requires."""
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


@dataclass
class Principal:
    """The caller: an Airflow user (JWT) or a CData API token.

    :param name: the Airflow user name, or the token's name
    :param kind: ``jwt`` or ``token``
    :param role: the token's role (None for JWT users: the auth manager decides)
    """

    name: str
    kind: Literal["jwt", "token"]
    role: str | None = None
    user: Any = field(default=None, repr=False)
    token: TokenRecord | None = field(default=None, repr=False)

    def allowed(self, action: Action, dag_id: str | None) -> bool:
        """Whether this caller may do ``action`` on the job whose DAG is ``dag_id``.

        :param action: ``read``, ``edit`` (create/modify/delete), ``run``, ``cancel`` or ``admin``
        :param dag_id: the job's DAG id; None for collection-level checks (list, create without a name)
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if self.kind == "token":
            return action in ROLE_ACTIONS.get(self.role or "", frozenset())
        return _jwt_allowed(self.user, action, dag_id)

    def filter_allowed(self, action: Action, dag_ids: Iterable[str]) -> set[str]:
        """The subset of ``dag_ids`` this caller may ``action`` — one auth-manager call for reads and edits.

        Listing many jobs with :meth:`allowed` costs one check per DAG (a DB query each under FAB); for an
        action that is a plain DAG check (``read``: GET, ``edit``: PUT) this asks the auth manager once
        (``filter_authorized_dag_ids``, the same check per DAG).
        """
        ids = set(dag_ids)
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        check = JWT_CHECKS.get(action)
        if self.kind == "token" or not ids or check is None or check[1] is not None:
            return {d for d in ids if self.allowed(action, d)}
        from airflow.api_fastapi.app import get_auth_manager

        manager = get_auth_manager()
        return set(manager.filter_authorized_dag_ids(dag_ids=ids, user=self.user, method=check[0]))

    def authorize(self, action: Action, dag_id: str | None) -> None:
        """Raise a 403 in the envelope unless :meth:`allowed`.

        :raises ApiError: 403 ``Forbidden``
        """
        if not self.allowed(action, dag_id):
            what = f" job DAG {dag_id!r}" if dag_id else " jobs" if action != "admin" else " API tokens"
            who = f"token {self.name!r} (role {self.role})" if self.kind == "token" else f"user {self.name!r}"
            raise ApiError(403, "Forbidden", f"{who} may not {_ACTION_WORDS[action]}{what}.")


def _jwt_allowed(user: Any, action: str, dag_id: str | None) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    # never AuthManagerDep: it reads request.app.state, which is the plugin sub-app (research §1)
    manager = get_auth_manager()
    if action == "admin":
        return bool(
            manager.is_authorized_variable(method="POST", user=user)
            and manager.is_authorized_connection(method="POST", user=user)
        )
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    method, entity_name = JWT_CHECKS[action]
    entity = DagAccessEntity[entity_name] if entity_name else None
    details = DagDetails(id=dag_id) if dag_id else None
    return bool(manager.is_authorized_dag(method=method, access_entity=entity, details=details, user=user))


async def _principal_from_jwt(token: str) -> Principal:
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()  # not initialised = server bug (500), not the caller's credentials
    try:
        user = await manager.get_user_from_token(token)
    except Exception as e:  # expired, bad signature, revoked, malformed claims: all "wrong credentials"
        reason = "expired" if type(e).__name__ == "ExpiredSignatureError" else "invalid"
        raise unauthorized(f"The bearer token is {reason}; get a new one from POST /auth/token.") from None
    return Principal(name=str(user.get_name()), kind="jwt", role=None, user=user)


async def _principal_from_api_token(secret: str, source: str) -> Principal:
    from airflow_sync.api.tokens import verify_token

    # a DB round trip: keep it off the event loop
    record = await run_in_threadpool(verify_token, secret)
    if record is None:
        raise unauthorized(f"The API token in {source} is not valid (unknown or revoked).")
    return Principal(name=record.name, kind="token", role=record.role, token=record)


def _basic_password(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


async def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or a 401 in the envelope.

    The result is cached on ``request.state`` so routes and sub-dependencies share one lookup.
    """
    cached = getattr(request.state, "airflow_sync_principal", None)
    if cached is not None:
        return cached
    principal = await _authenticate(request)
    request.state.airflow_sync_principal = principal
    return principal


async def _authenticate(request: Request) -> Principal:
    """Every credential the request carries must be valid (a wrong one is a 401 even beside a good one);
    the ``Authorization`` header, when present, names the caller, else ``x-cdata-authtoken``."""
    header_token = request.headers.get("x-cdata-authtoken", "").strip()
    principal = await _from_authorization(request.headers.get("authorization", "").strip())
    if principal is not None:
        if header_token and not (principal.kind == "token" and header_token == _secret_of(request)):
            await _principal_from_api_token(header_token, "x-cdata-authtoken")  # must be valid too
        return principal
    if header_token:
        return await _principal_from_api_token(header_token, "x-cdata-authtoken")
    url_token = request.query_params.get("@authtoken", "").strip()
    if url_token and settings.get_bool("allow_authtoken_in_url"):
        return await _principal_from_api_token(url_token, "@authtoken")
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    cookie = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if cookie and (request.method in COOKIE_METHODS or ui_write_allowed(request)):
        return await _principal_from_jwt(cookie)
    if cookie:
        raise unauthorized(
            "A write authenticated only by the Airflow UI session cookie must come from the Sync Jobs page "
            f"(header {UI_HEADER}, same origin); scripts should send Authorization: Bearer or an API token."
        )
    raise unauthorized(
        "Credentials required: an Airflow JWT (Authorization: Bearer), or an API token in the "
        "x-cdata-authtoken header or as the HTTP Basic password."
    )


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this server's own origin.

    ``Sec-Fetch-Site`` (every current browser sends it) must be ``same-origin``; it is the browser's own
    judgement, so a TLS-terminating proxy does not confuse it. Without it, ``Origin`` must equal
    ``scheme://host[:port]`` of the request. A request with neither header is not from a browser page, so it
    cannot be carrying a victim's cookie by accident.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site.strip().lower() == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.rstrip("/").lower() == f"{request.url.scheme}://{host}".lower()


def ui_write_allowed(request: Request) -> bool:
    """A cookie-only write is accepted only from the Sync Jobs page: header, same origin."""
    return request.headers.get(UI_HEADER, "").strip() == "1" and same_origin(request)


def _secret_of(request: Request) -> str | None:
    """The API-token secret of the Authorization header (Bearer or Basic password), if it holds one."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip().count(".") != 2:
        return value.strip()
    if scheme.lower() == "basic":
        return _basic_password(value)
    return None


async def _from_authorization(authorization: str) -> Principal | None:
    """The caller named by an ``Authorization`` header (None without one); a wrong one is a 401."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        if value.count(".") == 2:
            return await _principal_from_jwt(value)
        return await _principal_from_api_token(value, "the Authorization header")
    if scheme == "basic" and value:
        password = _basic_password(value)
        if not password:
            raise unauthorized("HTTP Basic credentials must carry the API token as the password.")
        return await _principal_from_api_token(password, "the Basic credentials")
    if scheme in ("bearer", "basic"):
        raise unauthorized(f"The Authorization header has no {scheme.capitalize()} credentials.")
    raise unauthorized(f"Unsupported Authorization scheme {scheme!r}; use Bearer or Basic.")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(action: Action):
    """A dependency that authenticates and checks a collection-level ``action`` (no DAG).

    Usage: ``@router.get("/tokens", dependencies=[Depends(require("admin"))])``.
    """

    async def _check(request: Request) -> Principal:
        principal = await get_principal(request)
        if principal.kind == "token":
            principal.authorize(action, None)
        else:  # the auth manager may query the DB (FAB)
            await run_in_threadpool(principal.authorize, action, None)
        return principal

    return _check

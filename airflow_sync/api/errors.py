"""The API's error envelope and the handlers that produce it.

Every failure leaves the API as ``{"error": {"code": "<short code>", "message": "<what and how to fix>"}}``
(job-api §1), optionally with ``"target"`` naming the offending field, as OData error bodies do. Domain
errors from :mod:`airflow_sync.exceptions` are translated here, so services raise them and never think
about HTTP. FastAPI's 422 validation errors become 400, Starlette's 404/405 get the envelope, and anything
unexpected becomes a 500 envelope that shows no internals (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_sync import exceptions as exc

log = logging.getLogger(__name__)

#: HTTP status of each domain error; subclasses inherit through the MRO walk in :func:`status_for`.
DOMAIN_STATUS: dict[type[exc.AirflowSyncError], int] = {
    exc.JobValidationError: 400,
    exc.JobNotFoundError: 404,
    exc.JobExistsError: 409,
    exc.JobRunningError: 409,
    exc.JobNotRunningError: 409,
    exc.JobConflictError: 409,
    exc.JobVersionMismatchError: 409,
}

#: default code for a bare HTTP status (Starlette/FastAPI HTTPException without our code)
STATUS_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalError",
    501: "NotImplemented",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, rendered as the error envelope.

    :param status: HTTP status code
    :param code: short machine-readable code (``InvalidParameter``, ``Forbidden``...)
    :param message: what went wrong and how to fix it; never secrets or row values
    :param target: the request field or parameter the error is about, if any
    :param headers: extra response headers (``WWW-Authenticate`` on 401, ``Allow`` on 405)
    :param position: 0-based character offset of the problem inside the target's text (query parse errors)
    :param details: every problem, when there were several (``[{"code", "message", "target"?,
        "position"?}]``), so a client can show each next to its field
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
        position: int | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = dict(headers or {})
        self.position = position
        self.details = details

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def error_body(
    code: str,
    message: str,
    target: str | None = None,
    *,
    position: int | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The envelope ``{"error": {"code", "message"[, "target"][, "position"][, "details"]}}``."""
    err: dict[str, Any] = {"code": code, "message": message}
    if target:
        err["target"] = target
    if position is not None:
        err["position"] = position
    if details:
        err["details"] = details
    return {"error": err}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    target: str | None = None,
    headers: Mapping[str, str] | None = None,
    position: int | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A JSON response carrying the error envelope."""
    return JSONResponse(
        error_body(code, message, target, position=position, details=details),
        status_code=status,
        headers=dict(headers or {}),
    )


def status_for(error: exc.AirflowSyncError) -> int:
    """HTTP status of a domain error (400 for anything not listed: it was raised on purpose).

    An error class may declare its own ``http_status`` (the token errors do).
    """
    declared = getattr(error, "http_status", None)
    if isinstance(declared, int):
        return declared
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


#: problems named in the summary ``message``; ``details`` always lists all of them
MESSAGE_PROBLEMS = 10


def _detail(error: exc.AirflowSyncError) -> dict[str, Any]:
    out: dict[str, Any] = {"code": error.code, "message": getattr(error, "message", None) or str(error)}
    field = getattr(error, "field", None)
    if field:
        out["target"] = field
    position = getattr(error, "position", None)
    if isinstance(position, int):
        out["position"] = position
    return out


def from_domain(error: exc.AirflowSyncError) -> ApiError:
    """Translate a domain error into an :class:`ApiError` (status, code, message, field, position, and
    ``details`` when a job body had several problems)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    field = getattr(error, "field", None)
    details = None
    causes = getattr(error, "causes", None)
    first: Any = error
    if isinstance(error, exc.JobValidationErrors):
        first = causes[0] if causes else error
        details = [_detail(c) for c in error.causes] if len(error.causes) > 1 else None
        if len(error.causes) > MESSAGE_PROBLEMS:
            shown = " | ".join(f"{i}) {c.message}" for i, c in enumerate(error.causes[:MESSAGE_PROBLEMS], 1))
            message = f"{len(error.causes)} problems: {shown} | ... (error.details lists all)"
    if field and field not in message:
        # the spec promises a 400 that names the field, also for messages written without it
        message = f"{field}: {message}"
    position = getattr(first, "position", None)
    return ApiError(
        status_for(error),
        error.code,
        message,
        target=field,
        position=position if isinstance(position, int) else None,
        details=details,
    )


def _field_of(loc: Sequence[Any]) -> str | None:
    """The user-facing name in a pydantic error location (``("body", "JobName")`` -> ``JobName``)."""
    names = [str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path", "header")]
    return ".".join(names) if names else None


def from_validation(error: RequestValidationError) -> ApiError:
    """FastAPI's 422 -> 400 naming the first invalid field (the spec never returns 422)."""
    errors = list(error.errors())
    if not errors:
        return ApiError(400, "InvalidParameter", "The request is invalid.")
    first = errors[0]
    field = _field_of(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        return ApiError(400, "InvalidBody", "The request body is not valid JSON.", target="body")
    if field:
        return ApiError(400, "InvalidParameter", f"{field}: {msg}", target=field)
    return ApiError(400, "InvalidParameter", msg)


async def _api_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(
        error.status,
        error.code,
        error.message,
        target=error.target,
        headers=error.headers,
        position=error.position,
        details=error.details,
    )


async def _domain_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, exc.AirflowSyncError)
    return await _api_error_handler(request, from_domain(error))


async def _validation_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return await _api_error_handler(request, from_validation(error))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this app serves at the request's path (what ``Allow`` must list).

    Starlette's own 405 names the methods of the first route that matched the path only; ``jobs('X')`` has
    a GET, a PUT and a DELETE route.
    """
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _http_exception_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    detail = error.detail
    headers = dict(error.headers or {})
    if status == 404 and detail == "Not Found":
        message = f"No resource at {request.url.path}. See GET $metadata for the entity sets and actions."
    elif status == 405:
        allow = ", ".join(allowed_methods(request))
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        headers["Allow"] = allow
        message = f"{request.method} is not allowed on {request.url.path}; allowed: {allow}."
    else:
        message = detail if isinstance(detail, str) else str(detail)
    return error_response(status, STATUS_CODES.get(status, "Error"), message, headers=headers)


class CatchAllMiddleware:
    """Turn any unexpected exception into a 500 envelope without internals.

    Starlette's own ``Exception`` handler re-raises after responding; this pure ASGI middleware sits
    inside the app's exception layer instead, logs the traceback once and answers, so the client never
    sees a stack trace and the server never sees an unhandled error escaping the plugin app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("Unexpected error serving %s %s", scope.get("method"), scope.get("path"))
            if started:  # nothing sane left to send; let the server close the connection
                raise
            response = error_response(
                500, "InternalError", "Internal server error; the details are in the api-server log."
            )
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler above on ``app`` (plugin apps do not inherit the root app's handlers)."""
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(exc.AirflowSyncError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_middleware(CatchAllMiddleware)

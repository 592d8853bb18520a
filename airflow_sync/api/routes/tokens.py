"""Admin-only API token management: ``GET/POST /tokens``, ``GET/DELETE /tokens(Name)``.

``POST`` returns the new secret once, in ``Token``; nothing can show it again. ``DELETE`` revokes (the
token stops working at once and stays listed as revoked until its name is reused).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from airflow_sync.api import tokens
from airflow_sync.api.auth import Principal, require
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import body_doc, error_responses
from airflow_sync.api.wire import base_url, envelope, key_pattern, parse_entity_key, read_body
from airflow_sync.jobs import scalars

#: the key in ``set(...)``, documented with its exact syntax
KeyPath = Annotated[
    str,
    Path(
        description="X, 'X' (a quote inside doubled) or Name='X'",
        json_schema_extra={"pattern": key_pattern("Name")},
    ),
]

router = APIRouter(tags=["tokens"])

_ERRORS = error_responses(400, 403)


class TokenBody(BaseModel):
    """``POST /tokens``: a name and a role (no other fields)."""

    model_config = ConfigDict(extra="forbid")

    Name: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": "string",
                "pattern": r"^[ \t\r\n]*[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}[ \t\r\n]*$",
                "description": "1-100 of letters, digits, _ . @ -, not starting with a punctuation mark",
            }
        ),
    ]
    Role: Annotated[
        Any,
        WithJsonSchema(
            {"type": "string", "pattern": scalars.words_pattern(tokens.ROLES), "description": "any case"}
        ),
    ]


class TokenRow(BaseModel):
    """An API token's record (never its secret or hash)."""

    model_config = ConfigDict(extra="forbid")

    Name: str
    Role: str
    Prefix: str = Field(description="the first characters of the secret, to recognise it")
    Created: str | None
    CreatedBy: str | None
    LastUsed: str | None
    Revoked: str | None


class TokenEntity(TokenRow):
    odata_context: str = Field(alias="@odata.context")


class TokenCreated(TokenEntity):
    Token: str = Field(description="the secret: shown once, never again")


class TokenCollection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    odata_context: str = Field(alias="@odata.context")
    value: list[TokenRow]


def to_wire(row: dict[str, Any]) -> dict[str, Any]:
    """A token listing row in the API's capitalised field names."""
    return {
        "Name": row["name"],
        "Role": row["role"],
        "Prefix": row["prefix"],
        "Created": row["created"],
        "CreatedBy": row["created_by"],
        "LastUsed": row["last_used"],
        "Revoked": row["revoked"],
    }


@router.get("/tokens", responses={200: {"model": TokenCollection}, **_ERRORS})
async def list_api_tokens(
    request: Request, principal: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    """Every API token (never secrets or hashes), revoked ones included."""
    rows = await run_in_threadpool(tokens.list_tokens)
    return envelope(request, "tokens", [to_wire(r) for r in rows])


@router.post(
    "/tokens",
    status_code=201,
    responses={201: {"model": TokenCreated}, **error_responses(400, 403, 409, 413)},
    openapi_extra=body_doc(TokenBody),
)
async def create_api_token(
    request: Request, principal: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    """Issue a token. Body: ``{"Name": ..., "Role": "admin|job_creator|standard|support|viewer"}``."""
    body = {k.lower(): v for k, v in (await read_body(request)).items()}
    unknown = sorted(set(body) - {"name", "role"})
    if unknown:
        raise ApiError(400, "InvalidParameter", f"Unknown field(s): {', '.join(unknown)}.", target=unknown[0])
    for key in ("name", "role"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            field = key.capitalize()
            raise ApiError(400, "InvalidParameter", f"{field} is required (a string).", target=field)
    created_by = f"{principal.kind}:{principal.name}"
    secret = await run_in_threadpool(
        _create, validate_wire_name(body["name"]), validate_wire_role(body["role"]), created_by
    )
    record = await run_in_threadpool(tokens.get_token, body["name"].strip())
    return {
        "@odata.context": f"{base_url(request)}/$metadata#tokens/$entity",
        **to_wire(record.to_dict()),
        "Token": secret,
    }


def _create(name: str, role: str, created_by: str) -> str:
    return tokens.create_token(name, role, created_by=created_by)


def validate_wire_name(name: str) -> str:
    return tokens.validate_name(name, field="Name")


def validate_wire_role(role: str) -> str:
    return tokens.validate_role(role, field="Role")


@router.get("/tokens({key})", responses={200: {"model": TokenEntity}, **error_responses(400, 403, 404)})
async def get_api_token(
    key: KeyPath, request: Request, principal: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    """One token's record."""
    name = parse_entity_key(key, "Name")
    record = await run_in_threadpool(tokens.get_token, name)
    return {
        "@odata.context": f"{base_url(request)}/$metadata#tokens/$entity",
        **to_wire(record.to_dict()),
    }


@router.delete(
    "/tokens({key})",
    status_code=204,
    responses={204: {"description": "Revoked"}, **error_responses(400, 403, 404)},
)
async def revoke_api_token(key: KeyPath, principal: Principal = Depends(require("admin"))) -> Response:
    """Revoke a token (idempotent)."""
    name = parse_entity_key(key, "Name")
    await run_in_threadpool(tokens.revoke_token, name)
    return Response(status_code=204)

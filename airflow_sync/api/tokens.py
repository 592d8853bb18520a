"""CData-style API tokens: issue, list, revoke, verify (job-api §2, ADR 0001).

A token is ``secrets.token_urlsafe(32)`` (256 random bits). Only its SHA-256 is stored: a fast hash is
enough for a secret with that much entropy (nothing to brute-force), and it lets :func:`verify_token` find
the row by an indexed lookup instead of trying every salted hash. The secret is returned once by
:func:`create_token` and never stored or logged. Used by the API (``/tokens``) and the CLI
(``airflow-sync tokens``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_sync.exceptions import AirflowSyncError, JobValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: the five roles of job-api §2, from most to least powerful
ROLES: tuple[str, ...] = ("admin", "job_creator", "standard", "support", "viewer")

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}$")
PREFIX_LEN = 8
#: last_used_at is refreshed at most this often, so a busy client does not turn every read into a write
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenExistsError(AirflowSyncError):
    """An active token with that name exists. HTTP 409."""

    code = "TokenExists"
    http_status = 409


class TokenNotFoundError(AirflowSyncError, LookupError):
    """No token with that name. HTTP 404."""

    code = "TokenNotFound"
    http_status = 404


@dataclass(frozen=True)
class TokenRecord:
    """A stored token, without its secret.

    :param name: unique label
    :param role: one of :data:`ROLES`
    :param prefix: first characters of the secret, for recognising it
    """

    name: str
    role: str
    prefix: str
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        """The listing form (ISO-8601 timestamps, never the hash)."""
        return {
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created": _iso(self.created_at),
            "created_by": self.created_by,
            "last_used": _iso(self.last_used_at),
            "revoked": _iso(self.revoked_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token secret (what the table stores)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        name=row.name,
        role=row.role,
        prefix=row.token_prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def validate_role(role: str, *, field: str = "role") -> str:
    """The canonical role name (case-insensitive input), or :class:`JobValidationError` naming ``field``."""
    canonical = (role or "").strip(" \t\r\n").lower()
    if canonical not in ROLES:
        raise JobValidationError(f"{field} must be one of {', '.join(ROLES)}; got {role!r}.", field=field)
    return canonical


def validate_name(name: str, *, field: str = "name") -> str:
    """A token name: 1-100 chars of letters, digits, ``_.@-``; else :class:`JobValidationError`."""
    name = (name or "").strip(" \t\r\n")
    if not NAME_RE.fullmatch(name):
        raise JobValidationError(
            f"{field} must be 1-100 characters of letters, digits, '_', '.', '@' or '-' "
            f"(not starting with a punctuation mark).",
            field=field,
        )
    return name


def _session_scope(session: Session | None):
    from contextlib import nullcontext

    from airflow.utils.session import create_session

    return nullcontext(session) if session is not None else create_session()


def create_token(
    name: str, role: str, *, created_by: str | None = None, session: Session | None = None
) -> str:
    """Issue a new token and return its secret — the only time it is ever available.

    A revoked token's name can be reused (the revoked row is replaced); an active one cannot.

    :param name: unique label for the token
    :param role: one of :data:`ROLES`
    :param created_by: who issued it (user or token name), for auditing
    :param session: an open SQLAlchemy session (committed by the caller); a new one otherwise
    :raises JobValidationError: bad name or role
    :raises TokenExistsError: an active token already has that name
    """
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from airflow_sync.db.models import ApiToken

    name = validate_name(name)
    role = validate_role(role)
    secret = secrets.token_urlsafe(32)
    with _session_scope(session) as s:
        existing = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if existing is not None:
            if existing.revoked_at is None:
                raise TokenExistsError(f"A token named {name!r} already exists; revoke it first.")
            s.delete(existing)
            s.flush()
        s.add(
            ApiToken(
                name=name,
                role=role,
                token_prefix=secret[:PREFIX_LEN],
                token_hash=hash_secret(secret),
                created_at=_now(),
                created_by=created_by,
            )
        )
        try:
            s.flush()
        except IntegrityError:
            # a concurrent create of the same name won the unique constraint
            raise TokenExistsError(f"A token named {name!r} already exists; revoke it first.") from None
    log.info("API token %r created with role %s", name, role)
    return secret


def list_tokens(*, include_revoked: bool = True, session: Session | None = None) -> list[dict[str, Any]]:
    """Every token (without secrets or hashes), sorted by name.

    :param include_revoked: also list revoked tokens (they stay until their name is reused)
    :param session: an open SQLAlchemy session; a new one otherwise
    """
    from sqlalchemy import select

    from airflow_sync.db.models import ApiToken

    with _session_scope(session) as s:
        query = select(ApiToken).order_by(ApiToken.name)
        if not include_revoked:
            query = query.where(ApiToken.revoked_at.is_(None))
        return [_record(row).to_dict() for row in s.scalars(query)]


def get_token(name: str, *, session: Session | None = None) -> TokenRecord:
    """One token's record. :raises TokenNotFoundError: no such name"""
    from sqlalchemy import select

    from airflow_sync.db.models import ApiToken

    with _session_scope(session) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise TokenNotFoundError(f"No API token named {name!r}.")
        return _record(row)


def revoke_token(name: str, *, session: Session | None = None) -> None:
    """Revoke a token: it stops working at once and stays listed as revoked. Idempotent.

    :raises TokenNotFoundError: no token with that name
    """
    from sqlalchemy import select

    from airflow_sync.db.models import ApiToken

    with _session_scope(session) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise TokenNotFoundError(f"No API token named {name!r}.")
        if row.revoked_at is None:
            row.revoked_at = _now()
            s.flush()
            log.info("API token %r revoked", name)


def verify_token(secret: str, *, session: Session | None = None) -> TokenRecord | None:
    """The active token whose secret this is, or None (unknown or revoked).

    The row is found by the hash (the index reveals nothing about the secret), then the hashes are
    compared with :func:`hmac.compare_digest` so the check itself takes constant time.

    :param secret: the secret as presented by the client
    :param session: an open SQLAlchemy session; a new one otherwise
    """
    from sqlalchemy import select

    from airflow_sync.db.models import ApiToken

    if not secret or len(secret) > 512:
        return None
    digest = hash_secret(secret)
    with _session_scope(session) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
            return None
        now = _now()
        if row.last_used_at is None or now - _aware(row.last_used_at) >= LAST_USED_RESOLUTION:
            row.last_used_at = now
            s.flush()
        return _record(row)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

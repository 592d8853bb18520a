"""Shared fixtures of the /api.rsc tests (both API engineers use them).

The app is Airflow's own (``create_app(apps="core")``, as ``airflow api-server`` builds it) with the
airflow_sync plugin mounted at ``/api.rsc``: ``AIRFLOW_SYNC_FORCE_API=1`` stands in for the api-server
process check. Users of the simple auth manager (tests/conftest.py): admin/adminpw, viewer/viewerpw,
user/userpw, op/oppw.

- ``api_client``: session-scoped ``TestClient``; paths are absolute (``/api.rsc/jobs``, prefix ``API``).
- ``jwt_headers(user)``: ``{"Authorization": "Bearer <JWT>"}`` from ``POST /auth/token`` (cached per user).
- ``token_headers(role)``: ``{"x-cdata-authtoken": <secret>}`` for a token of that role (one per role).
- ``revoked_token_headers``: headers of a token that was revoked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

os.environ["AIRFLOW_SYNC_FORCE_API"] = "1"

API = "/api.rsc"
PASSWORDS = {"admin": "adminpw", "viewer": "viewerpw", "user": "userpw", "op": "oppw"}
ROLES = ("admin", "job_creator", "standard", "support", "viewer")


@pytest.fixture(scope="session")
def api_client(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(apps="core")) as client:
        yield client


@pytest.fixture(scope="session")
def jwt_headers(api_client) -> Callable[[str], dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}

    def headers(user: str) -> dict[str, str]:
        if user not in cache:
            r = api_client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
            assert r.status_code == 201, r.text
            cache[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return dict(cache[user])

    return headers


@pytest.fixture(scope="session")
def token_secrets(api_client) -> Callable[[str], str]:
    """``secret(role)`` — the raw secret of this session's token for ``role``."""
    from airflow_sync.api import tokens

    run = uuid.uuid4().hex[:6]
    cache: dict[str, str] = {}

    def secret(role: str) -> str:
        if role not in cache:
            cache[role] = tokens.create_token(f"test-{role}-{run}", role, created_by="pytest")
        return cache[role]

    return secret


@pytest.fixture(scope="session")
def token_headers(token_secrets) -> Callable[[str], dict[str, str]]:
    def headers(role: str) -> dict[str, str]:
        return {"x-cdata-authtoken": token_secrets(role)}

    return headers


@pytest.fixture(scope="session")
def revoked_token_headers(api_client) -> dict[str, str]:
    from airflow_sync.api import tokens

    name = f"test-revoked-{uuid.uuid4().hex[:6]}"
    secret = tokens.create_token(name, "admin", created_by="pytest")
    tokens.revoke_token(name)
    return {"x-cdata-authtoken": secret}

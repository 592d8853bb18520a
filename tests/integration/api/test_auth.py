"""Authentication and authorization of /api.rsc (job-api §2) against Airflow's real app and auth manager.

The platform's own routes (tokens, $metadata, OpenAPI, docs) x every kind of caller -> the exact status.
"""

from __future__ import annotations

import base64

import pytest

from tests.integration.api.conftest import API, ROLES

ADMIN_ROUTES = [("GET", "/tokens"), ("POST", "/tokens"), ("GET", "/tokens('nobody')"),
                ("DELETE", "/tokens('nobody')")]  # fmt: skip
READ_ROUTES = [("GET", "/$metadata"), ("GET", "/openapi.json"), ("GET", "/$oas"), ("GET", "/docs")]

#: role -> may administer tokens
ROLE_IS_ADMIN = {"admin": True, "job_creator": False, "standard": False, "support": False, "viewer": False}
#: simple-auth-manager user -> may administer tokens (Variables + Connections writers: op and admin)
JWT_IS_ADMIN = {"admin": True, "op": True, "user": False, "viewer": False}


def call(client, method, path, headers, **kw):
    if method == "POST" and path == "/tokens":
        kw.setdefault("json", {"Name": "", "Role": "viewer"})  # invalid name: an allowed caller gets 400
    return client.request(method, f"{API}{path}", headers=headers, **kw)


def allowed_status(method, path):
    return {("GET", "/tokens"): 200, ("POST", "/tokens"): 400}.get(
        (method, path), 404 if "nobody" in path else 200
    )


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + READ_ROUTES)
def test_no_credentials_401_with_challenge(api_client, method, path):
    r = call(api_client, method, path, {})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "Unauthorized"
    assert "Bearer" in r.headers["www-authenticate"] and "Basic" in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-cdata-authtoken": "not-a-token"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer aaa.bbb.ccc"},  # JWT-shaped garbage
        {"Authorization": "Basic " + base64.b64encode(b"anyone:not-a-token").decode()},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Negotiate abc"},
    ],
    ids=["header", "bearer-token", "bearer-jwt", "basic", "basic-garbage", "other-scheme"],
)
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + READ_ROUTES)
def test_bad_credentials_401(api_client, headers, method, path):
    r = call(api_client, method, path, headers)
    assert r.status_code == 401, r.text


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + READ_ROUTES)
def test_revoked_token_401(api_client, revoked_token_headers, method, path):
    assert call(api_client, method, path, revoked_token_headers).status_code == 401


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + READ_ROUTES)
def test_token_roles(api_client, token_headers, role, method, path):
    r = call(api_client, method, path, token_headers(role))
    is_admin_route = (method, path) in ADMIN_ROUTES
    expected = allowed_status(method, path) if (ROLE_IS_ADMIN[role] or not is_admin_route) else 403
    assert r.status_code == expected, r.text
    if expected == 403:
        assert r.json()["error"]["code"] == "Forbidden"


@pytest.mark.parametrize("user", sorted(JWT_IS_ADMIN))
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + READ_ROUTES)
def test_jwt_users(api_client, jwt_headers, user, method, path):
    r = call(api_client, method, path, jwt_headers(user))
    is_admin_route = (method, path) in ADMIN_ROUTES
    expected = allowed_status(method, path) if (JWT_IS_ADMIN[user] or not is_admin_route) else 403
    assert r.status_code == expected, r.text


def test_basic_with_token_as_password_any_user_name(api_client, token_secrets):
    for user in ("", "anyone", "admin"):
        cred = base64.b64encode(f"{user}:{token_secrets('admin')}".encode()).decode()
        assert api_client.get(f"{API}/tokens", headers={"Authorization": f"Basic {cred}"}).status_code == 200


def test_bearer_with_api_token(api_client, token_secrets):
    r = api_client.get(f"{API}/tokens", headers={"Authorization": f"Bearer {token_secrets('admin')}"})
    assert r.status_code == 200


def test_authtoken_in_url_only_when_enabled(api_client, token_secrets, monkeypatch):
    url = f"{API}/tokens?@authtoken={token_secrets('admin')}&workspaceId=default"
    assert api_client.get(url).status_code == 401  # ignored by default: as if no credentials
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__ALLOW_AUTHTOKEN_IN_URL", "True")
    assert api_client.get(url).status_code == 200
    assert api_client.get(f"{API}/tokens?@authtoken=wrong").status_code == 401


def test_ignored_authtoken_does_not_break_other_credentials(api_client, token_headers):
    r = api_client.get(
        f"{API}/tokens?@authtoken=whatever&workspaceId=default", headers=token_headers("admin")
    )
    assert r.status_code == 200


def test_every_credential_must_be_valid(api_client, token_headers, jwt_headers):
    # a wrong credential is a 401 even beside a good one: a misconfigured client learns it at once, and a
    # bad bearer/Basic is never "rescued" by a good x-cdata-authtoken (or the other way round)
    both_good = {**jwt_headers("admin"), **token_headers("viewer")}
    assert api_client.get(f"{API}/tokens", headers=both_good).status_code == 200  # the JWT names the caller
    bad_token = {**jwt_headers("admin"), "x-cdata-authtoken": "wrong"}
    assert api_client.get(f"{API}/tokens", headers=bad_token).status_code == 401
    bad_bearer = {"Authorization": "Bearer aaa.bbb.ccc", **token_headers("admin")}
    assert api_client.get(f"{API}/tokens", headers=bad_bearer).status_code == 401
    bad_basic = {"Authorization": "Basic " + base64.b64encode(b"x:wrong").decode(), **token_headers("admin")}
    assert api_client.get(f"{API}/tokens", headers=bad_basic).status_code == 401
    same = token_headers("admin")["x-cdata-authtoken"]
    basic_same = {"Authorization": "Basic " + base64.b64encode(f"x:{same}".encode()).decode()}
    assert (
        api_client.get(f"{API}/tokens", headers={**basic_same, **token_headers("admin")}).status_code == 200
    )


def test_ui_cookie_authenticates_reads_only(api_client, jwt_headers):
    jwt = jwt_headers("admin")["Authorization"].split(" ", 1)[1]
    cookies = {"_token": jwt}
    api_client.cookies.clear()
    try:
        api_client.cookies.update(cookies)
        assert api_client.get(f"{API}/tokens").status_code == 200
        # a write with only the cookie: no credentials (CSRF)
        assert api_client.post(f"{API}/tokens", json={"Name": "x", "Role": "viewer"}).status_code == 401
    finally:
        api_client.cookies.clear()


def test_expired_jwt_is_401(api_client):
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    user = manager.deserialize_user({"sub": "admin", "role": "admin"})
    expired = manager.generate_jwt(user, expiration_time_in_seconds=-60)
    r = api_client.get(f"{API}/tokens", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("viewer", {"read": True, "edit": False, "run": False, "cancel": False, "admin": False}),
        ("user", {"read": True, "edit": True, "run": True, "cancel": True, "admin": False}),
        ("op", {"read": True, "edit": True, "run": True, "cancel": True, "admin": True}),
        ("admin", {"read": True, "edit": True, "run": True, "cancel": True, "admin": True}),
    ],
)
def test_jwt_dag_level_decisions_come_from_the_auth_manager(api_client, jwt_headers, user, expected):
    import asyncio

    from airflow_sync.api.auth import _principal_from_jwt

    token = jwt_headers(user)["Authorization"].split(" ", 1)[1]
    principal = asyncio.run(_principal_from_jwt(token))
    assert principal.kind == "jwt" and principal.name == user
    assert {a: principal.allowed(a, "sync__orders") for a in expected} == expected
    ids = {"sync__a", "sync__b"}
    assert principal.filter_allowed("read", ids) == ids
    assert principal.filter_allowed("edit", ids) == (ids if expected["edit"] else set())


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", {"read", "edit", "run", "cancel", "admin"}),
        ("job_creator", {"read", "edit", "run"}),
        ("standard", {"read", "run"}),
        ("support", {"read", "cancel"}),
        ("viewer", {"read"}),
    ],
)
def test_token_role_table(role, expected):
    from airflow_sync.api.auth import ACTIONS, Principal

    p = Principal(name="t", kind="token", role=role)
    assert {a for a in ACTIONS if p.allowed(a, "sync__x")} == expected
    assert p.filter_allowed("edit", ["sync__x", "sync__y"]) == (
        {"sync__x", "sync__y"} if "edit" in expected else set()
    )

"""Token management through /api.rsc/tokens and airflow_sync.api.tokens (storage, lifecycle, wire forms)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.integration.api.conftest import API


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_use_list_revoke_reuse(api_client, token_headers):
    admin = token_headers("admin")
    name = unique("ci-loader")
    r = api_client.post(f"{API}/tokens", json={"Name": name, "Role": "standard"}, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["Token"]
    assert created["Name"] == name and created["Role"] == "standard"
    assert created["Prefix"] == secret[:8] and len(secret) >= 40
    assert created["@odata.context"].endswith("/api.rsc/$metadata#tokens/$entity")

    # the new token authenticates (standard: may read the metadata, may not manage tokens)
    mine = {"x-cdata-authtoken": secret}
    assert api_client.get(f"{API}/$metadata", headers=mine).status_code == 200
    assert api_client.get(f"{API}/tokens", headers=mine).status_code == 403

    listing = api_client.get(f"{API}/tokens", headers=admin).json()
    assert listing["@odata.context"].endswith("/api.rsc/$metadata#tokens")
    row = next(t for t in listing["value"] if t["Name"] == name)
    assert row["LastUsed"] is not None and row["Revoked"] is None
    assert secret not in api_client.get(f"{API}/tokens", headers=admin).text
    assert "Token" not in row

    # same name while active: 409, and nothing changed
    r = api_client.post(f"{API}/tokens", json={"Name": name, "Role": "admin"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "TokenExists"
    assert api_client.get(f"{API}/$metadata", headers=mine).status_code == 200

    for key in (name, f"'{name}'", f"Name='{name}'"):
        got = api_client.get(f"{API}/tokens({key})", headers=admin)
        assert got.status_code == 200 and got.json()["Role"] == "standard"

    assert api_client.delete(f"{API}/tokens('{name}')", headers=admin).status_code == 204
    assert api_client.get(f"{API}/$metadata", headers=mine).status_code == 401
    assert api_client.get(f"{API}/tokens('{name}')", headers=admin).json()["Revoked"] is not None
    assert api_client.delete(f"{API}/tokens('{name}')", headers=admin).status_code == 204  # idempotent

    # a revoked name can be issued again; the old secret stays dead
    r = api_client.post(f"{API}/tokens", json={"Name": name, "Role": "viewer"}, headers=admin)
    assert r.status_code == 201
    assert api_client.get(f"{API}/$metadata", headers=mine).status_code == 401
    assert (
        api_client.get(f"{API}/$metadata", headers={"x-cdata-authtoken": r.json()["Token"]}).status_code
        == 200
    )


def test_form_body_same_as_json(api_client, token_headers):
    name = unique("form")
    r = api_client.post(
        f"{API}/tokens", data={"name": name, "role": "Support"}, headers=token_headers("admin")
    )
    assert r.status_code == 201, r.text
    assert r.json()["Role"] == "support"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"Name": "x", "Role": "superuser"}, "Role"),
        ({"Name": "bad name!", "Role": "viewer"}, "Name"),
        ({"Role": "viewer"}, "Name"),
        ({"Name": "x"}, "Role"),
        ({"Name": "x", "Role": "viewer", "Expires": "1"}, "expires"),
        ({"Name": 5, "Role": "viewer"}, "Name"),
    ],
)
def test_bad_create_bodies_are_400_naming_the_field(api_client, token_headers, body, target):
    r = api_client.post(f"{API}/tokens", json=body, headers=token_headers("admin"))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["target"] == target


def test_non_object_and_invalid_json_400(api_client, token_headers):
    h = {**token_headers("admin"), "content-type": "application/json"}
    assert api_client.post(f"{API}/tokens", content=b"[1]", headers=h).status_code == 400
    assert api_client.post(f"{API}/tokens", content=b"{", headers=h).status_code == 400


def test_body_too_large_413_and_nothing_created(api_client, token_headers, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__MAX_BODY_BYTES", "64")
    name = unique("big")
    body = {"Name": name, "Role": "viewer", "pad": "x" * 100}
    r = api_client.post(f"{API}/tokens", json=body, headers=token_headers("admin"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"
    monkeypatch.delenv("AIRFLOW__AIRFLOW_SYNC__MAX_BODY_BYTES")
    assert api_client.get(f"{API}/tokens('{name}')", headers=token_headers("admin")).status_code == 404


def test_unknown_token_404_wrong_method_405(api_client, token_headers):
    admin = token_headers("admin")
    r = api_client.get(f"{API}/tokens('missing')", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "TokenNotFound"
    assert api_client.delete(f"{API}/tokens('missing')", headers=admin).status_code == 404
    r = api_client.put(f"{API}/tokens", headers=admin)
    assert r.status_code == 405 and r.json()["error"]["code"] == "MethodNotAllowed"
    assert api_client.post(f"{API}/tokens('x')", headers=admin).status_code == 405


def test_only_the_hash_is_stored(api_client):
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_sync.api import tokens
    from airflow_sync.db.models import ApiToken

    name = unique("stored")
    secret = tokens.create_token(name, "viewer", created_by="pytest")
    with create_session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == name))
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in value for value in stored)


def test_verify_token_rejects_near_misses(api_client):
    from airflow_sync.api import tokens

    secret = tokens.create_token(unique("near"), "viewer")
    assert tokens.verify_token(secret) is not None
    for wrong in (secret[:-1], secret + "x", secret.upper(), "", " " + secret, "x" * 600):
        assert tokens.verify_token(wrong) is None


def test_cli_style_functions(api_client):
    from airflow_sync.api import tokens

    name = unique("cli")
    tokens.create_token(name, "JOB_CREATOR")
    row = next(t for t in tokens.list_tokens() if t["name"] == name)
    assert row["role"] == "job_creator" and row["revoked"] is None
    assert set(row) == {"name", "role", "prefix", "created", "created_by", "last_used", "revoked"}
    tokens.revoke_token(name)
    assert all(t["name"] != name for t in tokens.list_tokens(include_revoked=False))
    with pytest.raises(tokens.TokenNotFoundError):
        tokens.revoke_token(unique("never"))

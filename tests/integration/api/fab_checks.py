"""JWT authorization with the FAB auth manager — run ONLY in its own pytest process by test_auth_fab.py.

The auth manager is process-global configuration, so this module is not collected by a normal run (its
name does not start with ``test_``); ``test_auth_fab.py`` starts ``pytest`` on it with
``AIRFLOW__CORE__AUTH_MANAGER`` set to FAB.
"""

from __future__ import annotations

import os

import pytest

from tests.integration.api.conftest import API

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

pytestmark = pytest.mark.skipif(
    os.environ.get("AIRFLOW__CORE__AUTH_MANAGER") != FAB,
    reason="needs its own process with the FAB auth manager",
)

USERS = {"fabadmin": ("Admin", "adminpw"), "fabviewer": ("Viewer", "viewerpw"), "fabop": ("Op", "oppw"),
         "fabuser": ("User", "userpw")}  # fmt: skip


@pytest.fixture(scope="module")
def fab_users(airflow_db):
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for name, (role, password) in USERS.items():
            if not sm.find_user(name):
                found = sm.find_role(role)
                assert found is not None, f"FAB role {role} missing"
                assert sm.add_user(name, name, "Test", f"{name}@example.com", found, password=password)
    return USERS


@pytest.fixture(scope="module")
def fab_jwt(api_client, fab_users):
    cache: dict[str, dict[str, str]] = {}

    def headers(user: str) -> dict[str, str]:
        if user not in cache:
            r = api_client.post("/auth/token", json={"username": user, "password": fab_users[user][1]})
            assert r.status_code == 201, r.text
            cache[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[user]

    return headers


def test_the_fab_auth_manager_is_active(api_client):
    from airflow.api_fastapi.app import get_auth_manager

    assert type(get_auth_manager()).__name__ == "FabAuthManager"


def test_no_or_bad_credentials_401(api_client):
    assert api_client.get(f"{API}/$metadata").status_code == 401
    assert api_client.get(f"{API}/$metadata", headers={"Authorization": "Bearer a.b.c"}).status_code == 401


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("fabadmin", {"read": True, "edit": True, "run": True, "cancel": True, "admin": True}),
        ("fabop", {"read": True, "edit": True, "run": True, "cancel": True, "admin": True}),
        ("fabuser", {"read": True, "edit": True, "run": True, "cancel": True, "admin": False}),
        ("fabviewer", {"read": True, "edit": False, "run": False, "cancel": False, "admin": False}),
    ],
)
def test_dag_level_decisions(api_client, fab_jwt, user, expected):
    import asyncio

    from airflow_sync.api.auth import _principal_from_jwt

    principal = asyncio.run(_principal_from_jwt(fab_jwt(user)["Authorization"].split(" ", 1)[1]))
    assert principal.name == user
    assert {a: principal.allowed(a, "sync__orders") for a in expected} == expected


def test_token_management_admin_only(api_client, fab_jwt):
    body = {"Name": "fab-made", "Role": "viewer"}
    assert api_client.post(f"{API}/tokens", json=body, headers=fab_jwt("fabviewer")).status_code == 403
    assert api_client.get(f"{API}/tokens", headers=fab_jwt("fabviewer")).status_code == 403
    r = api_client.post(f"{API}/tokens", json=body, headers=fab_jwt("fabadmin"))
    assert r.status_code == 201, r.text
    assert r.json()["CreatedBy"] == "jwt:fabadmin"
    assert api_client.get(f"{API}/$metadata", headers=fab_jwt("fabviewer")).status_code == 200


def test_create_job_viewer_403_admin_passes_authorization(api_client, fab_jwt):
    import importlib.util

    if importlib.util.find_spec("airflow_sync.api.routes.jobs") is None:
        pytest.skip("jobs routes not present")
    body = {"JobName": "fab_job", "Source": "no_such_conn", "Destination": "no_such_conn",
            "Query#1": "REPLICATE orders"}  # fmt: skip
    r = api_client.post(f"{API}/jobs", json=body, headers=fab_jwt("fabviewer"))
    assert r.status_code == 403, r.text
    r = api_client.post(f"{API}/jobs", json=body, headers=fab_jwt("fabadmin"))
    assert r.status_code not in (401, 403), r.text  # authorized: validation (unknown connections) decides

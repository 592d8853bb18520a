"""Every job-resource route x {no credentials, bad token, revoked token, each token role, JWT admin/viewer}
-> the exact status (job-api §2). A refused request changes nothing."""

from __future__ import annotations

import pytest

from tests.integration.api.jobs_support import (
    API,
    active_runs,
    create_job,
    ensure_connections,
    finish_run,
    job_body,
    sync_dags,
    unique,
)

PRINCIPALS = [
    "none",
    "bad",
    "revoked",
    "token:admin",
    "token:job_creator",
    "token:standard",
    "token:support",
    "token:viewer",
    "jwt:admin",
    "jwt:viewer",
]
ALLOWED = {
    "read": {"token:admin", "token:job_creator", "token:standard", "token:support", "token:viewer"}
    | {"jwt:admin", "jwt:viewer"},
    "edit": {"token:admin", "token:job_creator", "jwt:admin"},
    "run": {"token:admin", "token:job_creator", "token:standard", "jwt:admin"},
    "cancel": {"token:admin", "token:support", "jwt:admin"},
}


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def creds(token_headers, jwt_headers, revoked_token_headers):
    def headers(who: str) -> dict[str, str]:
        if who == "none":
            return {}
        if who == "bad":
            return {"x-cdata-authtoken": "not-a-real-token"}
        if who == "revoked":
            return dict(revoked_token_headers)
        kind, _, name = who.partition(":")
        return token_headers(name) if kind == "token" else jwt_headers(name)

    return headers


@pytest.fixture(scope="module")
def job(api_client, jwt_headers):
    name = unique("authz")
    create_job(api_client, jwt_headers("admin"), name, "REPLICATE [orders]")
    return name


def _expected(who: str, action: str, ok: int) -> int:
    if who in ("none", "bad", "revoked"):
        return 401
    return ok if who in ALLOWED[action] else 403


@pytest.mark.parametrize("who", PRINCIPALS)
def test_read_routes(api_client, creds, job, who):
    h = creds(who)
    calls = [
        api_client.get(f"{API}/jobs", headers=h),
        api_client.get(f"{API}/jobs/$count", headers=h),
        api_client.get(f"{API}/jobs('{job}')", headers=h),
        api_client.get(f"{API}/jobs?JobName={job}", headers=h),
        api_client.post(f"{API}/getJobStatus", json={"JobName": job}, headers=h),
        api_client.post(f"{API}/getJobStatus", json={}, headers=h),
        api_client.get(f"{API}/history", headers=h),
        api_client.get(f"{API}/history/$count", headers=h),
        api_client.post(f"{API}/getLogs", json={"JobName": job, "Days": 1}, headers=h),
    ]
    for r in calls:
        assert r.status_code == _expected(who, "read", 200), (r.request.url, r.text)
        if r.status_code >= 400:
            assert set(r.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("who", PRINCIPALS)
def test_edit_routes(api_client, creds, jwt_headers, job, who):
    h = creds(who)
    admin = jwt_headers("admin")
    name = unique("authc")
    r = api_client.post(f"{API}/jobs", json=job_body(name), headers=h)
    assert r.status_code == _expected(who, "edit", 201), r.text
    exists = api_client.get(f"{API}/jobs('{name}')", headers=admin).status_code
    assert exists == (200 if r.status_code == 201 else 404)
    before = api_client.get(f"{API}/jobs('{job}')", headers=admin).json()
    r = api_client.put(f"{API}/jobs('{job}')", json={"Verbosity": before["Verbosity"]}, headers=h)
    assert r.status_code == _expected(who, "edit", 200), r.text
    victim = unique("authd")
    create_job(api_client, admin, victim, sync=False)
    r = api_client.delete(f"{API}/jobs('{victim}')", headers=h)
    assert r.status_code == _expected(who, "edit", 204), r.text
    still = api_client.get(f"{API}/jobs('{victim}')", headers=admin).status_code
    assert still == (404 if r.status_code == 204 else 200)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_run_and_cancel_routes(api_client, creds, jwt_headers, job, who):
    h = creds(who)
    admin = jwt_headers("admin")
    dag_id = f"sync__{job}"
    sync_dags()
    for action, body in (
        ("executeJob", {"JobName": job, "WaitForResults": "false"}),
        ("executeQuery", {"JobName": job, "Query#1": "REPLICATE [orders]", "WaitForResults": "false"}),
    ):
        r = api_client.post(f"{API}/{action}", json=body, headers=h)
        assert r.status_code == _expected(who, "run", 200), (action, r.text)
        runs = active_runs(dag_id)
        assert len(runs) == (1 if r.status_code == 200 else 0)
        for run in runs:
            finish_run(dag_id, run.run_id)
    # cancel needs something to cancel
    r = api_client.post(f"{API}/executeJob", json={"JobName": job, "WaitForResults": "false"}, headers=admin)
    assert r.status_code == 200, r.text
    r = api_client.post(f"{API}/cancelJob", json={"JobName": job}, headers=h)
    assert r.status_code == _expected(who, "cancel", 200), r.text
    if r.status_code == 200:
        assert active_runs(dag_id) == []  # a run that never started ends at once
    else:
        (run,) = active_runs(dag_id)
        assert not (run.note or "").startswith("Cancelled")
        finish_run(dag_id, run.run_id)

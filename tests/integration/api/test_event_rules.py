"""Safe events at save time (issue #14): python: needs the admin role and the allow-list, executeJob events
name existing jobs and never loop, and nothing that becomes an e-mail header carries control characters."""

from __future__ import annotations

import sys

import pytest

from tests.integration.api.jobs_support import API, ensure_connections, job_body, unique

NEVER_IMPORTED = "tests.integration.api.ro_never_imported_on_save"
ALLOWLIST = "AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST"


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


def _stored(api_client, headers, name: str) -> bool:
    return api_client.get(f"{API}/jobs('{name}')", headers=headers).status_code == 200


def test_python_events_need_the_admin_role_and_the_allow_list(
    api_client, token_headers, monkeypatch, request
):
    admin, creator = token_headers("admin"), token_headers("job_creator")
    name = unique("py")
    body = job_body(name, PreJob=f"python: {NEVER_IMPORTED}:run")

    monkeypatch.setenv(ALLOWLIST, f"{NEVER_IMPORTED}:*")
    err = _error(api_client.post(f"{API}/jobs", json=body, headers=creator), 403)
    assert err["target"] == "PreJob" and "admin role" in err["message"]
    assert not _stored(api_client, admin, name)

    monkeypatch.setenv(ALLOWLIST, "")
    err = _error(api_client.post(f"{API}/jobs", json=body, headers=admin), 400)
    assert err["target"] == "PreJob" and "[airflow_sync] python_event_allowlist" in err["message"]
    monkeypatch.setenv(ALLOWLIST, "mycompany.hooks:*")
    err = _error(api_client.post(f"{API}/jobs", json=body, headers=admin), 400)
    assert "is not allowed by [airflow_sync] python_event_allowlist (mycompany.hooks:*)" in err["message"]
    assert not _stored(api_client, admin, name)

    monkeypatch.setenv(ALLOWLIST, f"{NEVER_IMPORTED}:*")
    r = api_client.post(f"{API}/jobs", json=body, headers=admin)
    assert r.status_code == 201, r.text
    # the session shares one job store: a python: job left behind turns invalid once the allow-list is empty
    request.addfinalizer(lambda: api_client.delete(f"{API}/jobs('{name}')", headers=admin))
    assert NEVER_IMPORTED not in sys.modules  # nothing is imported on the api-server

    # a job_creator may still edit the rest of the job, but not set or change a python: event
    r = api_client.put(f"{API}/jobs('{name}')", json={"BatchSize": "50"}, headers=creator)
    assert r.status_code == 200, r.text
    r = api_client.put(
        f"{API}/jobs('{name}')", json={"PostJob": f"python: {NEVER_IMPORTED}:other"}, headers=creator
    )
    assert _error(r, 403)["target"] == "PostJob"


def test_execute_job_events_must_name_an_existing_job_and_never_loop(api_client, token_headers):
    admin = token_headers("job_creator")
    a, b, c = unique("loop_a"), unique("loop_b"), unique("loop_c")

    def starts(target: str) -> str:
        return f'<api:call op="executeJob"><api:set attr="JobName" value="{target}"/></api:call>'

    err = _error(api_client.post(f"{API}/jobs", json=job_body(a, PostJob=starts(a)), headers=admin), 400)
    assert err["target"] == "PostJob" and f"{a} -> {a}" in err["message"]
    err = _error(api_client.post(f"{API}/jobs", json=job_body(a, PreJob=starts(b)), headers=admin), 400)
    assert err["target"] == "PreJob" and f"job '{b}', which does not exist" in err["message"]

    # a -> b -> c is fine; c -> a would close the loop
    for name, target in ((c, None), (b, c), (a, b)):
        fields = {"PostJob": starts(target)} if target else {}
        assert api_client.post(f"{API}/jobs", json=job_body(name, **fields), headers=admin).status_code == 201
    r = api_client.put(f"{API}/jobs('{c}')", json={"PostJob": starts(a)}, headers=admin)
    err = _error(r, 400)
    assert err["target"] == "PostJob" and f"{c} -> {a} -> {b} -> {c}" in err["message"]
    assert api_client.get(f"{API}/jobs('{c}')", headers=admin).json()["PostJob"] == ""


@pytest.mark.parametrize(
    ("fields", "target"),
    [
        ({"NotifyEmailSubject": "Nightly\r\nBcc: someone@example.com"}, "NotifyEmailSubject"),
        ({"NotifyEmailSubject": "tab\there"}, "NotifyEmailSubject"),
        ({"NotifyEmailTo": "a@example.com\nb@example.com"}, "NotifyEmailTo"),
        (
            {
                "PostJob": '<api:call op="sendEmail"><api:set attr="To" value="a@example.com"/>'
                '<api:set attr="Subject" value="done&#13;&#10;Bcc: x@example.com"/></api:call>'
            },
            "PostJob",
        ),
    ],
)
def test_control_characters_never_reach_an_email_header(api_client, token_headers, fields, target):
    name = unique("hdr")
    body = job_body(name, **{"SendEmailNotification": "True", "NotifyEmailTo": "ops@example.com", **fields})
    err = _error(api_client.post(f"{API}/jobs", json=body, headers=token_headers("admin")), 400)
    assert err["target"] == target and "control characters" in err["message"]

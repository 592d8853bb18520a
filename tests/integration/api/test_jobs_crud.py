"""jobs entity set: create / get (every key form) / list / modify / delete over HTTP."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.integration.api.jobs_support import API, ensure_connections, job_body, unique


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


def test_create_returns_entity_and_get_by_every_key_form(api_client, admin):
    name = unique("crud")
    r = api_client.post(f"{API}/jobs", json=job_body(name, "REPLICATE [orders]"), headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["JobName"] == name
    assert created["Query#1"] == "REPLICATE [orders]"
    assert created["Status"] == "Not Started"
    assert created["DagId"] == f"sync__{name}"
    assert created["CanUpdate"] == "True" and created["CanExecute"] == "True"
    assert created["@odata.context"].endswith("$metadata#jobs/$entity")
    job_id = created["JobId"]
    forms = [
        f"jobs({name})",
        f"jobs('{name}')",
        f"jobs(JobName='{name}')",
        urllib.parse.quote(f"jobs('{name}')"),
        urllib.parse.quote(f"jobs(JobName='{name}')"),
        f"Jobs('{name}')",
        f"jobs('{job_id}')",
        f"jobs?JobName={name}",
    ]
    for form in forms:
        r = api_client.get(f"{API}/{form}", headers=admin)
        assert r.status_code == 200, (form, r.text)
        assert r.json()["JobName"] == name, form
        assert r.json()["JobId"] == job_id, form

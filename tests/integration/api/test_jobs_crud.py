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


def _get(api_client, name, headers):
    return api_client.get(f"{API}/jobs('{name}')", headers=headers)


def test_create_duplicate_is_409_and_keeps_the_first(api_client, admin):
    name = unique("dup")
    assert api_client.post(f"{API}/jobs", json=job_body(name), headers=admin).status_code == 201
    r = api_client.post(f"{API}/jobs", json=job_body(name, "REPLICATE [customers]"), headers=admin)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "JobExists"
    assert _get(api_client, name, admin).json()["Query#1"] == "REPLICATE [orders]"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"Verbosity": "abc"}, "Verbosity"),
        ({"Scheduled": "True"}, "ScheduledCron"),
        ({"Sourse": "x"}, "Sourse"),
        ({"Query#1": "SELECT nonsense FROM"}, "Query#1"),
        ({"Source": "no_such_connection"}, "Source"),
    ],
)
def test_create_validation_error_names_the_field_and_creates_nothing(api_client, admin, patch, field):
    name = unique("bad")
    r = api_client.post(f"{API}/jobs", json=job_body(name, **patch), headers=admin)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]
    assert _get(api_client, name, admin).status_code == 404


def test_create_accepts_form_body_and_string_scalars(api_client, admin):
    name = unique("form")
    body = job_body(name, Scheduled="False", Verbosity="3", BatchSize="500")
    r = api_client.post(f"{API}/jobs", data=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["Verbosity"] == "3" and r.json()["BatchSize"] == "500"


def test_modify_is_partial_and_queries_replace_the_list(api_client, admin):
    name = unique("mod")
    body = job_body(name, "REPLICATE [orders]", "REPLICATE [customers]", BatchSize="200")
    assert api_client.post(f"{API}/jobs", json=body, headers=admin).status_code == 201
    r = api_client.put(f"{API}/jobs('{name}')", json={"Verbosity": "4"}, headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["Verbosity"] == "4" and got["BatchSize"] == "200" and got["Query#2"] == "REPLICATE [customers]"
    r = api_client.put(f"{API}/jobs(JobName='{name}')", json={"Query#1": "REPLICATE [items]"}, headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["Query#1"] == "REPLICATE [items]" and "Query#2" not in got


def test_modify_refusals_change_nothing(api_client, admin, jwt_headers, token_headers):
    name = unique("ref")
    assert api_client.post(f"{API}/jobs", json=job_body(name), headers=admin).status_code == 201
    before = _get(api_client, name, admin).json()
    cases = [
        ({"JobName": "other"}, admin, 400),
        ({"Verbosity": "2", "Bogus": "1"}, admin, 400),
        ({"Verbosity": "4"}, jwt_headers("viewer"), 403),
        ({"Verbosity": "4"}, token_headers("standard"), 403),
        ({"Verbosity": "4"}, token_headers("support"), 403),
    ]
    for body, headers, status in cases:
        r = api_client.put(f"{API}/jobs('{name}')", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    assert _get(api_client, name, admin).json() == before
    r = api_client.put(f"{API}/jobs('nope_{name}')", json={"Verbosity": "4"}, headers=admin)
    assert r.status_code == 404


def test_concurrent_modifies_never_lose_an_update_silently(api_client, admin):
    from concurrent.futures import ThreadPoolExecutor

    name = unique("race")
    assert api_client.post(f"{API}/jobs", json=job_body(name), headers=admin).status_code == 201
    patches = [{"BatchSize": "111"}, {"Verbosity": "5"}, {"TableNamePrefix": "p_"}, {"CommandTimeout": "9"}]

    def put(patch):
        return patch, api_client.put(f"{API}/jobs('{name}')", json=patch, headers=admin)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(put, patches))
    final = _get(api_client, name, admin).json()
    for patch, r in outcomes:
        assert r.status_code in (200, 409), r.text
        ((field, value),) = patch.items()
        if r.status_code == 200:
            assert final[field] == value, (patch, final)
        else:
            assert r.json()["error"]["code"] == "JobConflict"
    assert any(r.status_code == 200 for _, r in outcomes)


def test_delete_then_gone(api_client, admin, jwt_headers):
    name = unique("del")
    assert api_client.post(f"{API}/jobs", json=job_body(name), headers=admin).status_code == 201
    r = api_client.delete(f"{API}/jobs('{name}')", headers=jwt_headers("viewer"))
    assert r.status_code == 403
    assert _get(api_client, name, admin).status_code == 200
    r = api_client.delete(f"{API}/jobs('{name}')", headers=admin)
    assert r.status_code == 204 and r.content == b""
    assert _get(api_client, name, admin).status_code == 404
    assert api_client.delete(f"{API}/jobs('{name}')", headers=admin).status_code == 404


def test_property_access(api_client, admin):
    name = unique("prop")
    r = api_client.post(f"{API}/jobs", json=job_body(name, Verbosity="3"), headers=admin)
    assert r.status_code == 201
    r = api_client.get(f"{API}/jobs('{name}')/Verbosity", headers=admin)
    assert r.status_code == 200 and r.json()["value"] == "3"
    r = api_client.get(f"{API}/jobs('{name}')/Verbosity/$value", headers=admin)
    assert r.status_code == 200 and r.text == "3"
    assert api_client.get(f"{API}/jobs('{name}')/Nope", headers=admin).status_code == 404


def test_list_shows_entities_and_count(api_client, admin, token_headers):
    name = unique("lst")
    assert api_client.post(f"{API}/jobs", json=job_body(name), headers=admin).status_code == 201
    r = api_client.get(f"{API}/jobs", headers=token_headers("viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.context"].endswith("$metadata#jobs")
    mine = [j for j in body["value"] if j["JobName"] == name]
    assert len(mine) == 1
    assert mine[0]["CanUpdate"] == "False" and mine[0]["CanExecute"] == "False"
    r = api_client.get(f"{API}/jobs/$count", headers=admin)
    assert r.status_code == 200 and int(r.text) == len(body["value"])

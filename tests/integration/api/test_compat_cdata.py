"""CData client compatibility: replay the request shapes real CData Sync clients send
(research/cdata-sync-spec.md §1, Appendix A) and check the response shapes they parse."""

from __future__ import annotations

import base64
import threading
import time
import urllib.parse

import pytest

from tests.integration.api.jobs_support import (
    API,
    DST,
    SRC,
    active_runs,
    ensure_connections,
    finish_run,
    sync_dags,
    unique,
)


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def token(token_secrets):
    return token_secrets("admin")


@pytest.fixture
def hdr(token):
    return {"x-cdata-authtoken": token, "Content-Type": "application/json"}


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def _create_like_cdata(api_client, hdr, name: str) -> dict:
    """The create body of the CData docs / official client: every scalar a string, Query#N tasks."""
    body = {
        "JobName": name,
        "Source": SRC,
        "Destination": DST,
        "Scheduled": "True",
        "ScheduledCron": "0 2 * * *",
        "SendEmailNotification": "True",
        "NotifyEmailTo": "ops@example.com",
        "EmailErrorOnly": "True",
        "Verbosity": "2",
        "TableNamePrefix": "sf_",
        "AlterSchema": "True",
        "ReplicateStartDate": "2020-01-01",
        "ReplicateInterval": "30",
        "ReplicateIntervalUnit": "days",
        "Query#1": "REPLICATE [orders]",
        "Query#2": "REPLICATE [customers] WITH IncrementalCheckColumns='id'",
        "WorkspaceId": "default",
    }
    r = api_client.post(f"{API}/jobs?workspaceId=default", json=body, headers=hdr)
    assert r.status_code == 201, r.text
    sync_dags()
    return r.json()


def test_job_entity_is_all_strings_and_readable_in_every_key_form(api_client, hdr):
    name = unique("cd")
    created = _create_like_cdata(api_client, hdr, name)
    assert all(isinstance(v, str) or v is None for v in created.values()), created
    assert created["Scheduled"] == "True" and created["Verbosity"] == "2" and created["Type"] == "Standard"
    got = api_client.get(f"{API}/jobs('{name}')", headers=hdr).json()
    assert got["NextRun"] and got["NextRun"][-6] in "+-"  # parsed, scheduled, active: next cron tick
    assert created["NextRun"] == got["NextRun"]  # before the parse: the time the parse sets
    quoted = urllib.parse.quote(f"jobs('{name}')")
    for path in (quoted, f"jobs(JobName='{name}')", f"jobs?JobName={name}&workspaceId=default"):
        r = api_client.get(f"{API}/{path}", headers=hdr)
        assert r.status_code == 200 and r.json()["JobName"] == name, path
    r = api_client.get(f"{API}/jobs?$filter=Source eq '{SRC}' and JobName eq '{name}'", headers=hdr)
    assert [j["JobName"] for j in r.json()["value"]] == [name]
    r = api_client.get(f"{API}/jobs?$select=JobName,Status&$filter=JobName eq '{name}'", headers=hdr)
    assert r.json()["value"] == [{"JobName": name, "Status": "Not Started"}]
    r = api_client.get(f"{API}/jobs/$count", headers=hdr)
    assert r.status_code == 200 and r.text.isdigit()


def test_execute_job_as_the_official_client_sends_it(api_client, hdr):
    """executeJob {JobName, WaitForResults "true", Timeout "0"} held until the run ends (Orchestra)."""
    name = unique("cdx")
    job = _create_like_cdata(api_client, hdr, name)

    def scheduler():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = active_runs(job["DagId"])
            if runs:
                time.sleep(0.3)
                finish_run(job["DagId"], runs[0].run_id)
                return
            time.sleep(0.05)

    t = threading.Thread(target=scheduler)
    t.start()
    r = api_client.post(
        f"{API}/executeJob?workspaceId=default",
        json={"JobName": name, "WaitForResults": "true", "Timeout": "0", "WorkspaceId": "default"},
        headers=hdr,
    )
    t.join()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("/$metadata#Collection(CData.executeJobOutput)")
    first = body["value"][0]
    assert first["JobName"] == name and first["Query"] is None
    assert first["Status"] == "SUCCESS" and first["Result"] is None and first["Detail"] == "Completed"
    assert first["RunStartDate"][-6] in "+-"  # ISO-8601 with offset
    assert {"JobName", "Query", "Status", "Result", "Detail", "RunStartDate"} <= set(first)


def test_legacy_script_shapes_form_body_basic_auth(api_client, token):
    """PowerShell-style scripts: form body, ExecutionType=Run, Async=true, Basic with the token."""
    name = unique("cdl")
    job = _create_like_cdata(api_client, {"x-cdata-authtoken": token}, name)
    for user in ("admin", "anything"):
        r = api_client.post(
            f"{API}/ExecuteJob",
            data={"JobName": name, "ExecutionType": "Run", "Async": "true"},
            headers=_basic(user, token),
        )
        assert r.status_code == 200, r.text
        assert r.json()["value"][0]["Status"] == "QUEUED"
        # getJobStatus the way polling scripts call it: flat fields beside value
        s = api_client.post(
            f"{API}/getJobStatus", data={"JobName": name, "PushOnQuery": "True"}, headers=_basic(user, token)
        ).json()
        assert s["JobName"] == name and s["Status"] == "QUEUED" and len(s["Queries"]) == 2
        assert s["@odata.context"].endswith("Collection(CData.getJobStatusOutput)")
        (run,) = active_runs(job["DagId"])
        # modifying a running job: the error JSON CData clients look for
        r = api_client.put(f"{API}/jobs('{name}')", json={"Verbosity": "3"}, headers=_basic(user, token))
        assert r.status_code == 409 and set(r.json()["error"]) >= {"code", "message"}
        finish_run(job["DagId"], run.run_id)
    r = api_client.post(f"{API}/executeJob", data={"JobName": name}, headers=_basic("admin", "wrong"))
    assert r.status_code == 401


def test_authtoken_in_url_is_ignored_when_disabled(api_client, token):
    r = api_client.get(f"{API}/jobs?@authtoken={token}")
    assert r.status_code == 401


def test_booleans_and_integers_as_strings_or_json(api_client, hdr):
    name = unique("cdb")
    job = _create_like_cdata(api_client, hdr, name)
    for wait in ("false", "False", "0", False, 0):
        r = api_client.post(f"{API}/executeJob", json={"JobName": name, "WaitForResults": wait}, headers=hdr)
        assert r.status_code == 200, (wait, r.text)
        (run,) = active_runs(job["DagId"])
        finish_run(job["DagId"], run.run_id)
    r = api_client.post(
        f"{API}/executeQuery",
        json={"JobName": name, "Query#1": "REPLICATE [orders]", "WaitForResults": "false"},
        headers=hdr,
    )
    assert r.status_code == 200 and r.json()["@odata.context"].endswith("CData.executeQueryOutput)")
    (run,) = active_runs(job["DagId"])
    finish_run(job["DagId"], run.run_id)


def test_history_as_the_official_client_queries_it(api_client, hdr):
    name = unique("cdh")
    job = _create_like_cdata(api_client, hdr, name)
    for _ in range(2):
        api_client.post(f"{API}/executeJob", json={"JobName": name, "WaitForResults": "false"}, headers=hdr)
        (run,) = active_runs(job["DagId"])
        finish_run(job["DagId"], run.run_id)
    q = urllib.parse.urlencode(
        {
            "$filter": f"JobName eq '{name}'",
            "$orderby": "RunStartDate desc",
            "$top": "1",
            "workspaceId": "default",
        }
    )
    r = api_client.get(f"{API}/history?{q}", headers=hdr)
    assert r.status_code == 200, r.text
    (row,) = r.json()["value"]
    assert row["Id"].isdigit() and row["Status"] == "Successful" and row["JobName"] == name
    assert set(row) >= {"Id", "JobId", "JobName", "RunStartDate", "Status", "Details", "Runtime"}
    assert api_client.get(f"{API}/history/$count?$filter=JobName eq '{name}'", headers=hdr).text == "2"


def test_unknown_action_404_and_wrong_method_405(api_client, hdr):
    r = api_client.post(f"{API}/noSuchAction", json={}, headers=hdr)
    assert r.status_code == 404 and "error" in r.json()
    r = api_client.put(f"{API}/history", json={}, headers=hdr)
    assert r.status_code == 405 and "error" in r.json()
    r = api_client.get(f"{API}/executeJob", headers=hdr)
    assert r.status_code == 405

"""SyncApiHook against the local fake CData Sync server: auth modes, envelopes, errors, retries, history
fallback — what a DAG author sees when calling a real Sync server."""

from __future__ import annotations

import base64
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync.hooks import sync_wire as wire
from airflow_sync.hooks.sync_api import SyncApiError, SyncApiHook
from tests.fakes.cdata_sync import FakeSyncServer

TOKEN = "5t2H5l1r8R1c6v0H2l0t"
QUERIES = ["REPLICATE [Account]", "REPLICATE [Opportunity]"]


@pytest.fixture
def fake():
    with FakeSyncServer(token=TOKEN) as server:
        server.add_job("SF_to_PG", QUERIES)
        yield server


@pytest.fixture
def hook(fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection())
    return SyncApiHook("sync_fake")


def headers_of(request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def test_token_travels_in_the_cdata_header_and_extras_are_not_headers(fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection(api_path="/api.rsc", retries=2, timeout=5))
    jobs = SyncApiHook("sync_fake").list_jobs()
    assert [j["JobName"] for j in jobs] == ["SF_to_PG"]
    sent = headers_of(fake.requests[-1])
    assert sent["x-cdata-authtoken"] == TOKEN
    assert "authorization" not in sent
    assert not {"api_path", "retries", "timeout", "retry_delay", "auth_mode"} & set(sent)
    assert fake.requests[-1].path == "/api.rsc/jobs"


def test_basic_auth_sends_the_token_as_password_and_no_token_header(monkeypatch):
    with FakeSyncServer(token=TOKEN, auth_modes=("basic",)) as fake:
        fake.add_job("SF_to_PG", QUERIES)
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection(auth_mode="basic", login="ops"))
        assert SyncApiHook("sync_fake").get_job("SF_to_PG")["JobName"] == "SF_to_PG"
        sent = headers_of(fake.requests[-1])
        assert sent["authorization"] == "Basic " + base64.b64encode(f"ops:{TOKEN}".encode()).decode()
        assert "x-cdata-authtoken" not in sent

        monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection())  # header mode: refused
        with pytest.raises(SyncApiError) as err:
            SyncApiHook("sync_fake").list_jobs()
        assert err.value.status == 401
        assert err.value.message == "Invalid authtoken or credentials."


def test_envelopes_are_unwrapped_and_string_scalars_kept(hook, fake):
    rows = hook.execute_job("SF_to_PG", wait=True)
    assert [r["Query"] for r in rows] == [None, *QUERIES]
    assert rows[0]["Status"] == "SUCCESS" and rows[1]["RecordsAffected"] == "1200"
    job = hook.get_job("SF_to_PG")
    assert job["Query#2"] == QUERIES[1]
    assert not any(k.startswith("@odata") for k in job)
    body = fake.calls("executeJob")[0].body
    assert body == {"JobName": "SF_to_PG", "WaitForResults": "true", "Timeout": "0"}


def test_queries_use_execute_query_with_numbered_fields(hook, fake):
    rows = hook.execute_job("SF_to_PG", queries=[QUERIES[1]])
    assert rows[0]["Status"] == "RUNNING"
    (call,) = fake.calls("executeQuery")
    expected = {"JobName": "SF_to_PG", "WaitForResults": "false", "Timeout": "0", "Query#1": QUERIES[1]}
    assert call.body == expected


def test_server_error_becomes_an_exception_with_its_message_and_is_not_retried(hook, fake):
    with pytest.raises(SyncApiError) as err:
        hook.execute_job("nope")
    assert (err.value.status, err.value.code) == (400, "InvalidJob")
    assert err.value.message == "The job 'nope' does not exist."
    assert str(err.value) == "400 InvalidJob: The job 'nope' does not exist."
    assert len(fake.calls("executeJob")) == 1


def test_cancel_when_not_running_is_an_error_with_the_code(hook):
    with pytest.raises(SyncApiError) as err:
        hook.cancel_job("SF_to_PG")
    assert err.value.code == "JobNotRunning"


@pytest.mark.parametrize("status", [503, 500, 429])
def test_transient_failures_are_retried_then_succeed(hook, fake, status):
    fake.fail_next(2, status=status)
    assert hook.list_jobs()[0]["JobName"] == "SF_to_PG"
    assert len(fake.requests) == 3


def test_retries_are_bounded_and_the_last_error_is_raised(fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection(retries=1))
    fake.fail_next(5, status=503)
    with pytest.raises(SyncApiError) as err:
        SyncApiHook("sync_fake").list_jobs()
    assert err.value.status == 503
    assert len(fake.requests) == 2


def test_unreachable_server_is_retried_then_raises_without_status(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = f'{{"conn_type": "cdata_sync", "host": "127.0.0.1", "port": {port}, "password": "{TOKEN}", '
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_DOWN", conn + '"extra": {"retries": 1, "retry_delay": 0}}')
    with pytest.raises(SyncApiError) as err:
        SyncApiHook("sync_down").list_jobs()
    assert err.value.status is None
    assert "could not reach" in err.value.message


def test_status_rows_of_a_running_then_finished_run(hook, fake):
    fake.jobs["SF_to_PG"].script = ["RUNNING", "FAILED"]
    hook.execute_job("SF_to_PG")
    state, _ = wire.job_state(hook.get_job_status("SF_to_PG"))
    assert state == wire.FAILED
    rows = hook.get_job_status("SF_to_PG")
    assert rows[-1]["Result"].startswith("Table [Account] could not be replicated")
    assert hook.get_job_status("SF_to_PG", push_on_query=False)[0]["Query"] is None
    assert len(hook.get_job_status("SF_to_PG", push_on_query=False)) == 1


def _history_fixture(fake):
    fake.add_job("Other", ["REPLICATE [X]"])
    now = datetime.now(UTC)
    fake.add_history("SF_to_PG", now - timedelta(days=2))
    fake.add_history("SF_to_PG", now - timedelta(hours=2), status="Failed")
    fake.add_history("SF_to_PG", now - timedelta(hours=1))
    fake.add_history("Other", now - timedelta(minutes=5))
    return now


@pytest.mark.parametrize("filter_fails", [False, True])
def test_history_of_one_job_since_a_time_newest_first(hook, fake, filter_fails):
    fake.history_filter_fails = filter_fails
    now = _history_fixture(fake)
    rows = hook.history("SF_to_PG", since=now - timedelta(hours=3))
    assert [r["Status"] for r in rows] == ["Successful", "Failed"]
    assert {r["JobName"] for r in rows} == {"SF_to_PG"}
    first = fake.calls("history")[0].query
    assert first["$filter"][0].startswith("JobName eq 'SF_to_PG' and RunStartDate ge ")
    assert first["$orderby"] == ["RunStartDate desc"]
    assert len(fake.calls("history")) == (2 if filter_fails else 1)
    assert len(hook.history("SF_to_PG", top=1)) == 1


def test_base_url_rules():
    def url(host, **kw):
        base = {"schema": None, "port": None, "login": None, "password": "t", "extra": {}}
        return wire.settings_from_connection(host=host, **{**base, **kw}).base_url

    assert url("sync.local", port=8181) == "http://sync.local:8181/api.rsc"
    assert url("sync.local", schema="https") == "https://sync.local/api.rsc"
    assert url("https://sync.local:8181/api.rsc/$oas") == "https://sync.local:8181/api.rsc"
    assert url("http://af:8080/", extra={"api_path": "proxy/api.rsc"}) == "http://af:8080/proxy/api.rsc"
    with pytest.raises(SyncApiError, match="auth_mode"):
        url("h", extra={"auth_mode": "oauth"})


def test_both_status_vocabularies_map_to_the_same_states():
    assert {wire.normalize_status(s) for s in ("SUCCESS", "Successful", "SUCCESSFUL")} == {wire.SUCCESS}
    assert {wire.normalize_status(s) for s in ("FAILED", "Failed", "ERROR", "Error")} == {wire.FAILED}
    assert {wire.normalize_status(s) for s in ("CANCELLED", "Cancelled")} == {wire.CANCELLED}
    running = ("RUNNING", "Running", "In progress", "Testing")
    assert {wire.normalize_status(s) for s in running} == {wire.RUNNING}
    assert wire.normalize_status("QUEUED") == wire.QUEUED
    assert wire.normalize_status("NOT STARTED") == wire.normalize_status("Not Started") == wire.NOT_STARTED


def test_job_state_without_a_job_level_row_is_derived_from_the_queries():
    rows = [{"Query": "Q1", "Status": "SUCCESS"}, {"Query": "Q2", "Status": "FAILED", "Result": "boom"}]
    state, row = wire.job_state(rows)
    assert (state, row["Result"]) == (wire.FAILED, "boom")
    rows[1] = {"Query": "Q2", "Status": "RUNNING"}
    assert wire.job_state(rows)[0] == wire.RUNNING
    assert wire.job_state([])[0] == wire.NOT_STARTED


def test_connection_form_calls_the_password_an_api_token():
    behaviour = SyncApiHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["password"] == "API token"


def test_form_field_names_and_empty_fields_use_the_defaults():
    api = wire.settings_from_connection(
        host="sync.local",
        schema=None,
        port=None,
        login=None,
        password="t",
        extra={"extra__cdata_sync__auth_mode": "basic", "extra__cdata_sync__api_path": "", "retries": ""},
    )
    assert (api.base_url, api.auth_mode, api.retries) == ("http://sync.local/api.rsc", "basic", 3)
    with pytest.raises(SyncApiError, match="'timeout' must be a number"):
        wire.settings_from_connection(
            host="h", schema=None, port=None, login=None, password="t", extra={"timeout": "soon"}
        )


def test_other_extras_are_headers_and_non_string_options_do_not_break_requests(fake, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SYNC_FAKE", fake.connection(verify=True, **{"X-Trace": "abc", "retries": 2})
    )
    assert SyncApiHook("sync_fake").list_jobs()
    sent = headers_of(fake.requests[-1])
    assert sent["x-trace"] == "abc"
    assert "verify" not in sent and "retries" not in sent


def test_provider_info_snippet_is_valid_for_airflow():
    import json
    import pathlib

    import airflow
    import jsonschema

    from airflow_sync import get_provider_info
    from airflow_sync.hooks.provider_info import client_provider_info

    schema = json.loads((pathlib.Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = {**get_provider_info(), **client_provider_info()}
    jsonschema.validate(info, schema)
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == SyncApiHook.conn_type
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "API token"


def test_a_hanging_server_hits_the_request_timeout(fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_FAKE", fake.connection(timeout=0.2, retries=0))
    fake.delay = 2
    started = time.monotonic()
    with pytest.raises(SyncApiError, match="could not reach") as err:
        SyncApiHook("sync_fake").list_jobs()
    assert err.value.status is None
    assert time.monotonic() - started < 1.5


def test_backoff_doubles_is_capped_and_follows_retry_after():
    assert [wire.backoff_delay(n, 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert wire.backoff_delay(10, 1.0) == wire.MAX_RETRY_DELAY
    assert wire.backoff_delay(0, 1.0, "7") == 7.0
    assert wire.backoff_delay(0, 1.0, "Wed, 21 Oct 2015 07:28:00 GMT") == 1.0

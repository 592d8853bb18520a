"""The Sync Jobs page's server side: its bundle and icons behind the session, the cookie-authenticated writes
it makes (and the CSRF guard around them), and its three read actions (previewSchedule, getRunResults,
getRunLog)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync import www
from tests.integration.api.jobs_support import (
    API,
    create_job,
    ensure_connections,
    new_destination,
    run_dag_test,
    unique,
)

UI = {"X-Airflow-Sync-UI": "1"}


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def cookie(api_client, jwt_headers):
    """``as_user(name)``: the client carries that user's Airflow UI session cookie (and nothing else)."""

    def as_user(user: str) -> None:
        api_client.cookies.clear()
        api_client.cookies.set("_token", jwt_headers(user)["Authorization"].split(" ", 1)[1])

    yield as_user
    api_client.cookies.clear()


def test_bundle_and_icons_are_served_to_a_signed_in_browser_only(api_client, cookie):
    assert api_client.get(f"{API}/ui/{www.BUNDLE_NAME}").status_code == 401
    cookie("viewer")
    r = api_client.get(f"{API}/ui/{www.BUNDLE_NAME}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (www.DIST_DIR / www.BUNDLE_NAME).read_bytes()
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]
    assert api_client.get(f"{API}/ui/icon.svg").headers["content-type"] == "image/svg+xml"
    missing = api_client.get(f"{API}/ui/../plugin.py")
    assert missing.status_code == 404
    assert api_client.get(f"{API}/ui/secrets.json").json()["error"]["code"] == "NotFound"


def test_cookie_write_needs_the_page_header_and_the_same_origin(api_client, cookie):
    cookie("admin")
    body = {"Name": unique("uitok"), "Role": "viewer"}
    # no page header: a form or script elsewhere could have sent it (CSRF) -> 401, nothing created
    r = api_client.post(f"{API}/tokens", json=body)
    assert r.status_code == 401 and "Sync Jobs page" in r.json()["error"]["message"]
    # the header, but the browser says another site sent it
    r = api_client.post(f"{API}/tokens", json=body, headers={**UI, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 401
    r = api_client.post(f"{API}/tokens", json=body, headers={**UI, "Sec-Fetch-Site": "same-site"})
    assert r.status_code == 401
    # an Origin that is not this server (another port of the same host is same-site, not same-origin)
    r = api_client.post(f"{API}/tokens", json=body, headers={**UI, "Origin": "http://testserver:9999"})
    assert r.status_code == 401
    assert api_client.get(f"{API}/tokens", headers={}).status_code == 200
    names = [t["Name"] for t in api_client.get(f"{API}/tokens").json()["value"]]
    assert body["Name"] not in names
    # the page itself: header + same origin
    r = api_client.post(
        f"{API}/tokens",
        json=body,
        headers={**UI, "Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    )
    assert r.status_code == 201, r.text


def test_read_only_user_forced_write_is_403_in_the_envelope(api_client, cookie):
    cookie("viewer")
    name = unique("uiro")
    r = api_client.post(
        f"{API}/jobs",
        json={
            "JobName": name,
            "Source": "as_api_src",
            "Destination": "as_api_dst",
            "Query#1": "REPLICATE [orders]",
        },
        headers={**UI, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden" and "viewer" in r.json()["error"]["message"]
    assert api_client.get(f"{API}/jobs('{name}')").status_code == 404


def test_preview_schedule_translates_cdata_cron_and_describes_it(api_client, jwt_headers):
    from airflow_sync.api.routes.ui import preview_schedule

    # CData day-of-week 2 = Monday; Airflow fires at 02:30 on Mondays (UTC here)
    now = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday
    out = preview_schedule("30 2 * * 2", 5, now=now)
    assert out["AirflowCron"] == "30 2 * * 1"
    assert out["value"] == [f"2026-01-{d:02d}T02:30:00+00:00" for d in (12, 19, 26)] + [
        "2026-02-02T02:30:00+00:00",
        "2026-02-09T02:30:00+00:00",
    ]
    assert "Monday" in out["Description"] and "02:30" in out["Description"]
    r = api_client.post(
        f"{API}/previewSchedule", json={"ScheduledCron": "0 6 L * ?"}, headers=jwt_headers("viewer")
    )
    assert r.status_code == 200, r.text
    times = [datetime.fromisoformat(t) for t in r.json()["value"]]
    assert len(times) == 5 and times == sorted(times) and all(t.hour == 6 for t in times)
    assert all((t + timedelta(days=1)).day == 1 for t in times)  # the last day of each month


@pytest.mark.parametrize(
    ("cron", "needle"),
    [("0 2 * *", "5 fields"), ("0 25 * * *", "hour"), ("0 0 LW * ?", "W"), ("", "5-field cron")],
)
def test_preview_schedule_refuses_what_a_save_would_refuse(api_client, jwt_headers, cron, needle):
    r = api_client.post(f"{API}/previewSchedule", json={"ScheduledCron": cron}, headers=jwt_headers("viewer"))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["target"] == "ScheduledCron" and needle in err["message"], err


def test_run_results_and_run_log_of_one_past_run(api_client, jwt_headers):
    admin = jwt_headers("admin")
    name = unique("uirun")
    # its own destination: earlier tests leave the same rows in the shared one (then 0 records change)
    create_job(
        api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]", Destination=new_destination()
    )
    first = run_dag_test(name)
    second = run_dag_test(name)
    assert first.state == second.state == "success"
    r = api_client.post(f"{API}/getRunResults", json={"JobName": name, "RunId": first.run_id}, headers=admin)
    assert r.status_code == 200, r.text
    rows = r.json()["value"]
    assert [(row["Query"], row["Status"], row["RunId"]) for row in rows] == [
        (None, "SUCCESS", first.run_id),
        ("REPLICATE [orders]", "SUCCESS", first.run_id),
        ("REPLICATE [customers]", "SUCCESS", first.run_id),
    ]
    assert rows[1]["RecordsAffected"] == "5" and rows[2]["RecordsAffected"] == "3"
    log = api_client.post(f"{API}/getRunLog", json={"JobName": name, "RunId": second.run_id}, headers=admin)
    assert log.status_code == 200, log.text
    assert {row["RunId"] for row in log.json()["value"]} <= {second.run_id}
    for run_id in ("nope", "bad\x00id"):  # NUL: PostgreSQL refuses it in a parameter (a 500 once)
        unknown = api_client.post(
            f"{API}/getRunResults", json={"JobName": name, "RunId": run_id}, headers=admin
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["target"] == "RunId"
    missing = api_client.post(f"{API}/getRunLog", json={"JobName": name}, headers=admin)
    assert missing.status_code == 400 and missing.json()["error"]["target"] == "RunId"


@pytest.mark.parametrize(("user", "can"), [("admin", "True"), ("user", "True"), ("viewer", "False")])
def test_permissions_say_who_may_create_jobs(api_client, jwt_headers, user, can):
    r = api_client.get(f"{API}/permissions", headers=jwt_headers(user))
    assert r.status_code == 200, r.text
    assert r.json() == {"User": user, "CanCreate": can}
    assert api_client.get(f"{API}/permissions").status_code == 401

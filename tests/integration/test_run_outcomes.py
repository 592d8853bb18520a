"""Every part of a run reports its outcome, in the same words everywhere (issue #14).

Real runs through ``dag.test()`` (Task SDK, in-process execution API, real SQLite / PostgreSQL databases, a
real SMTP server and HTTP server); what the API says about each run is read with the API's own services
(result rows and history rows) from the metadata DB the run wrote.
"""

from __future__ import annotations

import email
import json
import sqlite3
import sys
import threading

import pytest

from tests.integration.test_dag_runs import count, dbs, run, smtp_sink, store_job, webhook, xcom

__all__ = ["dbs", "smtp_sink", "webhook"]  # fixtures shared with test_dag_runs


def api_view(job, dr):
    """(job row, query rows, history row) of run ``dr`` as the API serves them."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_sync.api.services import history, results

    with create_session() as s:
        orm = s.scalar(select(DagRun).where(DagRun.dag_id == dr.dag_id, DagRun.run_id == dr.run_id))
        rows = results.result_rows(job, orm, session=s)
        info = results.load_run_info([orm], session=s)[orm.id]
        from datetime import UTC, datetime

        hist = history.history_row(info, job=job, now=datetime.now(UTC))
    return rows[0], rows[1:], hist


@pytest.fixture
def fast_retries(monkeypatch):
    """Retries without their production delays (dag.test waits them out)."""
    from datetime import timedelta

    from airflow_sync.dags import factory

    monkeypatch.setattr(factory, "EVENT_RETRY_DELAY", timedelta(0))
    monkeypatch.setattr(factory, "QUERY_RETRY_DELAY", timedelta(0))


@pytest.fixture
def smtp_down(monkeypatch):
    """``smtp_default`` pointing at a port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port}
    conn["extra"] = {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 3}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))


def mail_text(message) -> str:
    parsed = email.message_from_bytes(message.content)
    (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/html"]
    return part.get_payload(decode=True).decode()


# --- PreJob ---------------------------------------------------------------------------------------------


def test_prejob_cancel_job_ends_the_run_cancelled_without_queries_postjob_or_error_mail(dbs, smtp_sink):
    _, dst = dbs
    job = store_job(
        "ro_prejob_cancel",
        "REPLICATE [pc_orders] SELECT * FROM [orders]",
        PreJob='<api:set attr="CancelJob" value="true"/>',
        PostJob="sql: create table pc_postjob_ran (x integer)",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
        EmailErrorOnly="True",
    )
    dr, states = run(job)
    (q,) = job.query_task_ids()
    assert states[q] == "skipped" and states["notify"] == "success"
    with sqlite3.connect(dst) as c:  # neither the query nor the PostJob ran
        names = {r[0] for r in c.execute("select name from sqlite_master")}
    assert "pc_orders" not in names and "pc_postjob_ran" not in names
    assert smtp_sink.messages == []  # error-only: a run the PreJob cancelled is not an error
    job_row, (query_row,), hist = api_view(job, dr)
    assert (job_row["Status"], job_row["Detail"]) == ("CANCELLED", "Cancelled by the PreJob")
    assert (query_row["Status"], query_row["Detail"]) == ("SKIPPED", "Skipped: cancelled by the prejob")
    assert (hist["Status"], hist["Details"]) == ("Cancelled", "Cancelled by the PreJob")


def test_a_failed_prejob_fails_the_run_and_its_queries_are_skipped_everywhere(dbs, smtp_sink):
    job = store_job(
        "ro_prejob_fails",
        "REPLICATE [pf_orders] SELECT * FROM [orders]",
        PreJob="sql: select * from no_such_prejob_table",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
    )
    dr, states = run(job)
    assert states["pre_job"] == "failed" and dr.state == "failed"
    job_row, (query_row,), hist = api_view(job, dr)
    assert job_row["Status"] == "FAILED" and "no_such_prejob_table" in job_row["Result"]
    assert job_row["Detail"].startswith("PreJob failed: ")
    assert (query_row["Status"], query_row["Result"]) == ("SKIPPED", None)
    assert query_row["Detail"] == "Skipped: the PreJob failed"
    (mail,) = smtp_sink.messages
    body = mail_text(mail)
    assert "<td>SKIPPED</td>" in body and "NOT RUN" not in body and "PreJob failed" in body
    assert hist["Status"] == "Failed"


# --- PostJob --------------------------------------------------------------------------------------------


def test_a_failed_postjob_fails_the_run_and_its_error_is_redacted(
    dbs, pg_url, monkeypatch, smtp_sink, fast_retries
):
    import sqlalchemy

    from tests.integration.test_dag_runs import airflow_conn_from_url

    monkeypatch.setenv("AIRFLOW_CONN_RO_PG", airflow_conn_from_url(pg_url, "postgres"))
    engine = sqlalchemy.create_engine(pg_url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text("create table if not exists ro_people (email text primary key)"))
        c.execute(sqlalchemy.text("insert into ro_people values ('secret.person@example.com')"))
    engine.dispose()
    job = store_job(
        "ro_postjob_fails",
        "REPLICATE [ro_orders] SELECT * FROM [orders]",
        Destination="ro_pg",
        PostJob="sql: insert into ro_people (email) values ('secret.person@example.com')",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
        EmailErrorOnly="True",
    )
    try:
        dr, states = run(job)
    finally:  # the session's PostgreSQL database is shared with other modules: leave it as found
        engine = sqlalchemy.create_engine(pg_url)
        with engine.begin() as c:
            c.execute(sqlalchemy.text("drop table if exists ro_people, ro_orders, _airflow_sync_state"))
        engine.dispose()
    assert states["post_job"] == "failed" and states["finish"] == "upstream_failed", states
    assert dr.state == "failed"  # the PostJob's failure fails the run in Airflow too
    job_row, (query_row,), hist = api_view(job, dr)
    assert query_row["Status"] == "SUCCESS"  # the data part went well, and says so
    assert job_row["Status"] == "FAILED" and job_row["Detail"].startswith("PostJob failed: ")
    assert "unique" in job_row["Result"].lower() or "duplicate" in job_row["Result"].lower()
    (mail,) = smtp_sink.messages
    for text in (job_row["Result"], job_row["Detail"], hist["Details"], mail_text(mail)):
        assert "secret.person" not in text and "insert into" not in text.lower()


def test_a_webhook_answering_500_fails_the_postjob_after_retries(dbs, monkeypatch, fast_retries):
    import http.server

    hits: list[str] = []

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_port, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_RO_HOOK", json.dumps(conn))
    try:
        job = store_job(
            "ro_hook_500", "REPLICATE [h5_orders] SELECT * FROM [orders]", PostJob="http: POST ro_hook /x"
        )
        dr, states = run(job)
    finally:
        server.shutdown()
        server.server_close()
    assert len(hits) == 3  # at least once: the first attempt and two retries
    assert dr.state == "failed" and states["post_job"] == "failed"
    job_row, _, _ = api_view(job, dr)
    assert job_row["Status"] == "FAILED" and job_row["Result"] == "PostJob: http: POST /x answered HTTP 500"


def test_the_webhook_summary_carries_times_connections_counts_and_tries(dbs, webhook):
    job = store_job(
        "ro_summary",
        "REPLICATE [sm_orders] SELECT * FROM [orders]",
        "REPLICATE [no_such_sm_table]",
        PostJob="http: POST hook_http /hooks/summary",
    )
    run(job)
    ((_, body),) = webhook
    assert body["status"] == "FAILED" and body["detail"] == "1 of 2 Tasks Failed"
    assert (body["source"], body["destination"]) == ("dag_src", "dag_dst")
    assert body["start_date"] and body["end_date"] and body["start_date"] <= body["end_date"]
    assert body["pre_job"] == "SUCCESS" and body["pre_job_error"] is None
    ok, bad = body["queries"]
    assert (ok["status"], ok["rows_read"], ok["rows_inserted"], ok["rows_updated"], ok["rows_deleted"]) == (
        "SUCCESS",
        100,
        100,
        0,
        0,
    )
    assert ok["tries"] == 1 and ok["records_affected"] == 100
    assert bad["status"] == "FAILED" and "no_such_sm_table" in bad["error"]


# --- notifications --------------------------------------------------------------------------------------


def test_a_notification_that_cannot_be_sent_shows_without_changing_the_outcome(dbs, smtp_down, fast_retries):
    job = store_job(
        "ro_smtp_down",
        "REPLICATE [sd_orders] SELECT * FROM [orders]",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
    )
    dr, states = run(job)
    assert dr.state == "success" and states["notify"] == "failed"  # red in Airflow, the run is not
    job_row, (query_row,), hist = api_view(job, dr)
    assert job_row["Status"] == "SUCCESS" and query_row["Status"] == "SUCCESS"
    assert "notification not sent: " in job_row["Detail"] and "notification not sent: " in hist["Details"]
    assert job_row["Result"] is None


def test_a_failed_run_reports_the_query_error_not_the_mail_error(dbs, smtp_down, fast_retries):
    job = store_job(
        "ro_smtp_down_failed",
        "REPLICATE [no_such_sdf_table]",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
    )
    dr, states = run(job)
    assert dr.state == "failed" and states["notify"] == "failed"
    job_row, _, _ = api_view(job, dr)
    assert job_row["Status"] == "FAILED" and "no_such_sdf_table" in job_row["Result"]
    assert "Connection" not in job_row["Result"] and "notification not sent" in job_row["Detail"]


# --- retries --------------------------------------------------------------------------------------------


def test_records_affected_counts_every_try_that_committed_and_the_retry_shows(dbs, monkeypatch, fast_retries):
    from airflow_sync.engine import hooks
    from airflow_sync.exceptions import TransientReplicationError

    src, dst = dbs
    with sqlite3.connect(src) as c:
        c.execute("create table rt_src (id integer primary key, v text)")
        c.executemany("insert into rt_src values (?, ?)", [(i, f"v{i}") for i in range(50)])
    calls: list[str] = []

    def lose_the_connection_after_the_first_commit(point: str) -> None:
        if point == "committed" and not calls:
            calls.append(point)
            with sqlite3.connect(src) as c:  # the source moves on before the retry
                c.executemany("insert into rt_src values (?, ?)", [(i, f"v{i}") for i in range(50, 60)])
            raise TransientReplicationError("Transient database error: server closed the connection")

    monkeypatch.setattr(hooks, "test_hook", lose_the_connection_after_the_first_commit)
    job = store_job("ro_retried", "REPLICATE [rt_copy] SELECT * FROM [rt_src]")
    dr, _ = run(job)
    (q,) = job.query_task_ids()
    assert dr.state == "success" and calls == ["committed"]
    assert count(dst, "rt_copy") == 60
    # try 1 inserted 50 and committed before it failed; try 2 inserted the 10 new ones
    job_row, (query_row,), hist = api_view(job, dr)
    assert job_row["RecordsAffected"] == query_row["RecordsAffected"] == hist["RecordsAffected"] == "60"
    assert query_row["Detail"] == "60 records (2 tries)"
    assert job_row["Detail"] == hist["Details"] == f"Completed; needed more than one try: {q}"
    report = xcom(dr, "post_job")
    assert report["queries"][0]["tries"] == 2 and report["records_affected"] == 60


# --- cancel inside the load ------------------------------------------------------------------------------


def _cancel_now(job_name: str, user: str = "alice") -> None:
    """cancelJob's first step, as the API runs it, from inside the running load (another thread)."""
    from airflow_sync.api.services import runs
    from airflow_sync.api.services.common import in_session
    from airflow_sync.jobs import store

    job = store.get_job(job_name)
    in_session(runs.cancel_request, (job,), {"user": user})


def test_a_cancel_in_the_last_moment_before_commit_commits_nothing(dbs, smtp_sink, monkeypatch):
    from airflow_sync.engine import hooks

    _, dst = dbs

    def cancel_right_before_commit(point: str) -> None:
        if point == "commit":  # state row written, COMMIT next: cancelJob arrives now
            _cancel_now("ro_cancel_commit")

    monkeypatch.setattr(hooks, "test_hook", cancel_right_before_commit)
    job = store_job(
        "ro_cancel_commit",
        "REPLICATE [cc_orders] SELECT * FROM [orders]",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
        EmailErrorOnly="True",
    )
    dr, states = run(job)
    (q,) = job.query_task_ids()
    assert states[q] == "failed"
    assert count(dst, "cc_orders") == 0  # the guard refused the COMMIT
    assert xcom(dr, q, "error") is None  # a cancel is not an error of the query
    job_row, (query_row,), hist = api_view(job, dr)
    assert job_row["Status"] == "CANCELLED" and job_row["Detail"].startswith("Cancelled via API by alice")
    assert (query_row["Status"], query_row["RecordsAffected"]) == ("CANCELLED", "0")
    assert hist["Status"] == "Cancelled"
    report = xcom(dr, "post_job")
    assert report["status"] == "CANCELLED" and report["queries"][0]["status"] == "CANCELLED"
    (mail,) = smtp_sink.messages  # error-only still mails a run cancelled through the API
    assert b"ro_cancel_commit Cancelled" in mail.content


def test_a_cancel_after_the_commit_is_reported_as_what_happened(dbs, monkeypatch):
    from airflow_sync.engine import hooks

    _, dst = dbs

    def cancel_right_after_commit(point: str) -> None:
        if point == "committed":
            _cancel_now("ro_cancel_late")

    monkeypatch.setattr(hooks, "test_hook", cancel_right_after_commit)
    target = store_job("ro_late_target", "REPLICATE [lt_orders] SELECT * FROM [orders]")
    job = store_job(
        "ro_cancel_late",
        "REPLICATE [cl_orders] SELECT * FROM [orders]",
        PostJob='<api:call op="executeJob"><api:set attr="JobName" value="ro_late_target"/></api:call>',
    )
    dr, _ = run(job)
    assert count(dst, "cl_orders") == 100
    job_row, (query_row,), hist = api_view(job, dr)
    assert job_row["Status"] == "SUCCESS" and "the cancel came too late" in job_row["Detail"]
    assert (query_row["Status"], query_row["RecordsAffected"]) == ("SUCCESS", "100")
    assert hist["Status"] == "Successful" and hist["RecordsAffected"] == "100"
    # still, the user asked to stop: the PostJob starts no follow-up job
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        assert s.scalars(select(DagRun).where(DagRun.dag_id == target.dag_id())).all() == []


# --- safe events ----------------------------------------------------------------------------------------


def test_a_python_event_no_longer_allowed_is_refused_before_anything_is_imported(dbs, monkeypatch):
    module = "tests.integration.ro_never_imported"
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", f"{module}:*")
    job = store_job(
        "ro_py_revoked", "REPLICATE [pr_orders] SELECT * FROM [orders]", PreJob=f"python: {module}:go"
    )
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "")  # the administrator took it back
    dr, states = run(job)
    assert states["pre_job"] == "failed" and module not in sys.modules
    job_row, _, _ = api_view(job, dr)
    assert "[airflow_sync] python_event_allowlist" in job_row["Result"]
    from airflow_sync.jobs import store

    store.delete_job(
        job.name
    )  # invalid once the allow-list is empty: it would break an export/apply of all jobs


def test_a_failed_or_cancelled_run_starts_no_follow_up_job_and_chains_are_bounded(dbs, monkeypatch):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    target = store_job("ro_follow_target", "REPLICATE [ft_orders] SELECT * FROM [orders]")
    post = '<api:call op="executeJob"><api:set attr="JobName" value="ro_follow_target"/></api:call>'
    failing = store_job("ro_follow_failing", "REPLICATE [no_such_ff_table]", PostJob=post)
    dr, states = run(failing)
    assert dr.state == "failed" and states["post_job"] == "success"
    with create_session() as s:
        assert s.scalars(select(DagRun).where(DagRun.dag_id == target.dag_id())).all() == []

    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__MAX_EVENT_CHAIN_DEPTH", "2")
    chained = store_job("ro_follow_deep", "REPLICATE [fd_orders] SELECT * FROM [orders]", PostJob=post)
    dr, states = run(chained, event_chain=["ro_a", "ro_b"])  # this run was started by a -> b -> this job
    assert states["post_job"] == "failed" and dr.state == "failed"
    job_row, _, _ = api_view(chained, dr)
    assert (
        "max_event_chain_depth = 2" in job_row["Result"]
        and "ro_a -> ro_b -> ro_follow_deep" in job_row["Result"]
    )
    with create_session() as s:
        assert s.scalars(select(DagRun).where(DagRun.dag_id == target.dag_id())).all() == []

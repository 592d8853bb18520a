"""Generated job DAGs run with ``dag.test()`` against real SQLite databases and a real SMTP server.

``dag.test()`` re-parses the DAG bundle (the ``dags/`` shim) and runs every task in-process through the
Task SDK, so the jobs must be in the store first; tasks then read the job, the connections and XComs the
way they do on a worker.
"""

from __future__ import annotations

import contextlib
import email
import json
import os
import socket
import sqlite3

import pytest

pytest.importorskip("airflow_sync.engine.replicate", reason="the replication engine has not landed yet")


@pytest.fixture(scope="module")
def dbs(airflow_db, tmp_path_factory):
    """A source SQLite database with sample rows, an empty destination, both as Airflow connections."""
    folder = tmp_path_factory.mktemp("dag_runs")
    src, dst = folder / "source.db", folder / "dest.db"
    with sqlite3.connect(src) as c:
        c.executescript(
            """
            create table orders (id integer primary key, customer text, amount numeric);
            create table lines (id integer primary key, order_id integer, qty integer);
            """
        )
        c.executemany(
            "insert into orders values (?, ?, ?)",
            [(i, f"cust-{i:04d}-private", i * 1.5) for i in range(1, 101)],
        )
        c.executemany("insert into lines values (?, ?, ?)", [(i, i % 100 + 1, i % 5) for i in range(1, 251)])
    sqlite3.connect(dst).close()
    env = {
        "AIRFLOW_CONN_DAG_SRC": json.dumps({"conn_type": "sqlite", "host": str(src)}),
        "AIRFLOW_CONN_DAG_DST": json.dumps({"conn_type": "sqlite", "host": str(dst)}),
        # the python: events of these tests; everything else stays refused
        "AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST": f"{__name__}:*",
    }
    os.environ.update(env)
    yield src, dst
    for key in env:
        os.environ.pop(key, None)


@pytest.fixture
def smtp_sink():
    """A real SMTP server on loopback (aiosmtpd) behind the ``smtp_default`` connection."""
    controller_mod = pytest.importorskip("aiosmtpd.controller")

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Sink()
    controller = controller_mod.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 10},
        }
    )
    yield handler
    controller.stop()
    os.environ.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)


def store_job(name: str, *queries: str, **fields):
    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    body = {"JobName": name, "Source": "dag_src", "Destination": "dag_dst", **fields}
    body.update({f"Query#{i}": q for i, q in enumerate(queries, start=1)})
    job = Job.from_wire(body)
    with contextlib.suppress(Exception):
        store.delete_job(name)
    return store.create_job(job)


def run(job, **conf):
    from airflow_sync.dags.factory import build_dag

    dr = build_dag(job).test(run_conf=conf or None)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    return dr, states


def xcom(dr, task_id, key="return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        row = s.scalars(
            select(XComModel).where(
                XComModel.dag_id == dr.dag_id,
                XComModel.run_id == dr.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).one_or_none()
        if row is None:
            return None
        value = row.value
        return json.loads(value) if isinstance(value, str) else value


def count(db, table, where="1=1"):
    with sqlite3.connect(db) as c:
        return c.execute(f"select count(*) from {table} where {where}").fetchone()[0]


def test_a_run_replicates_every_query_and_returns_summaries(dbs):
    src, dst = dbs
    job = store_job(
        "dt_copy",
        "REPLICATE [orders]",
        "REPLICATE [big_lines] SELECT id, order_id, qty FROM [lines] WHERE qty >= 3",
        TableNamePrefix="stg_",
    )
    q_orders, q_big = job.query_task_ids()
    dr, states = run(job)
    assert states == {
        "pre_job": "success",
        q_orders: "success",
        q_big: "success",
        "post_job": "success",
        "finish": "success",
    }
    assert dr.state == "success"
    assert count(dst, "stg_orders") == 100  # implicit name: TableNamePrefix applies
    assert count(dst, "big_lines") == count(src, "lines", "qty >= 3")  # explicit name: no prefix
    summary = xcom(dr, q_orders)
    assert summary["rows_read"] == 100 and summary["records_affected"] == 100
    report = xcom(dr, "post_job")
    assert report["status"] == "SUCCESS"
    assert [q["status"] for q in report["queries"]] == ["SUCCESS", "SUCCESS"]


def test_conf_queries_runs_only_the_selected_ones(dbs):
    _, dst = dbs
    job = store_job("dt_subset", "REPLICATE [sub_orders] SELECT * FROM [orders]", "REPLICATE [lines]")
    q_orders, q_lines = job.query_task_ids()
    dr, states = run(job, queries=[q_lines], job_version=job.version)
    assert states[q_orders] == "skipped" and states[q_lines] == "success"
    assert dr.state == "success"
    assert count(dst, "lines") == 250
    with sqlite3.connect(dst) as c:
        assert c.execute("select name from sqlite_master where name = 'sub_orders'").fetchone() is None


def test_a_failed_query_stops_the_rest_without_continue_on_error(dbs):
    job = store_job(
        "dt_stop",
        "REPLICATE [no_such_table]",
        "REPLICATE [stop_orders] SELECT * FROM [orders]",
        ContinueOnError="False",
    )
    q_bad, q_next = job.query_task_ids()
    dr, states = run(job)
    assert states == {
        "pre_job": "success",
        q_bad: "failed",
        q_next: "upstream_failed",
        "post_job": "success",
        "finish": "success",
    }
    assert dr.state == "failed"
    report = xcom(dr, "post_job")
    assert report["status"] == "FAILED"
    assert "no_such_table" in (report["queries"][0]["error"] or "")


def test_continue_on_error_runs_the_rest_and_the_run_still_fails_and_mails(dbs, smtp_sink):
    _, dst = dbs
    job = store_job(
        "dt_continue",
        "REPLICATE [no_such_table]",
        "REPLICATE [cont_orders] SELECT * FROM [orders]",
        ContinueOnError="True",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com,dba@example.com",
        EmailErrorOnly="True",
    )
    q_bad, q_next = job.query_task_ids()
    dr, states = run(job)
    assert states == {
        "pre_job": "success",
        q_bad: "failed",
        q_next: "success",
        "post_job": "success",
        "finish": "success",
        "notify": "success",
    }
    assert dr.state == "failed"
    assert count(dst, "cont_orders") == 100

    (mail,) = smtp_sink.messages
    assert sorted(mail.rcpt_tos) == ["dba@example.com", "ops@example.com"]
    message = email.message_from_bytes(mail.content)
    assert message["Subject"] == "[airflow_sync] dt_continue Failed"
    (html_part,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    body = html_part.get_payload(decode=True).decode()
    assert "1 of 2 queries failed" in body
    for task_id in (q_bad, q_next):
        assert task_id in body
    assert "FAILED" in body and "SUCCESS" in body and "<td>100</td>" in body
    assert "no_such_table" in body  # the error text of the failed query


def test_email_error_only_sends_nothing_for_a_successful_run(dbs, smtp_sink):
    job = store_job(
        "dt_quiet",
        "REPLICATE [quiet_orders] SELECT * FROM [orders]",
        SendEmailNotification="True",
        NotifyEmailTo="ops@example.com",
        EmailErrorOnly="True",
    )
    dr, _ = run(job)
    assert dr.state == "success"
    assert smtp_sink.messages == []


def test_a_run_for_an_older_job_version_fails_fast(dbs):
    _, dst = dbs
    job = store_job("dt_version", "REPLICATE [ver_orders] SELECT * FROM [orders]")
    dr, states = run(job, job_version="0123456789abcdef")
    assert states["pre_job"] == "failed"
    assert states[job.query_task_ids()[0]] == "upstream_failed"
    assert states["post_job"] == "success"
    assert dr.state == "failed"
    with sqlite3.connect(dst) as c:
        assert c.execute("select name from sqlite_master where name = 'ver_orders'").fetchone() is None


def test_pre_job_env_and_post_job_sql(dbs):
    src, dst = dbs
    job = store_job(
        "dt_events",
        "REPLICATE [env_lines] SELECT * FROM [lines] WHERE qty >= {env:MINQ}",
        PreJob='<api:set attr="out.env:MINQ" value="4"/>',
        PostJob="sql: create table if not exists audit (job text, n integer);\n"
        "insert into audit select 'dt_events', count(*) from env_lines;",
    )
    dr, states = run(job)
    assert dr.state == "success", states
    assert count(dst, "env_lines") == count(src, "lines", "qty >= 4")
    with sqlite3.connect(dst) as c:
        assert c.execute("select n from audit where job = 'dt_events'").fetchone()[0] == count(
            dst, "env_lines"
        )


def test_pre_job_cancel_job_skips_the_queries(dbs):
    job = store_job(
        "dt_cancel",
        "REPLICATE [cancel_orders] SELECT * FROM [orders]",
        PreJob='<api:set attr="CancelJob" value="true"/>',
    )
    _, states = run(job)
    assert states[job.query_task_ids()[0]] == "skipped"
    assert states["post_job"] == "success"


#: what the PreJob python function below saw, inside the running task
SEEN: dict[str, object] = {}


def record_pre_job(job: dict, summary: dict) -> None:
    """PreJob ``python:`` target: runs inside the task, under the Task SDK supervisor."""
    from airflow_sync.jobs import store
    from airflow_sync.jobs.connections import under_supervisor

    SEEN.update(
        job=job["JobName"],
        summary=dict(summary),
        supervised=under_supervisor(),
        listed=[j.name for j in store.list_jobs()],
        parse=[key for key, _ in store.load_raw_for_parsing()],
    )


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP server on loopback behind the ``hook_http`` connection; records request bodies."""
    import http.server
    import threading

    received: list[tuple[str, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_port, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_HOOK_HTTP", json.dumps(conn))
    yield received
    server.shutdown()
    server.server_close()


def test_pre_job_python_reads_the_store_through_the_task_sdk_and_post_job_calls_a_webhook(dbs, webhook):
    job = store_job(
        "dt_hooks",
        "REPLICATE [hook_orders] SELECT * FROM [orders]",
        PreJob=f"python: {__name__}:record_pre_job",
        PostJob="http: POST hook_http /hooks/sync",
    )
    dr, states = run(job)
    assert dr.state == "success", states
    assert SEEN["job"] == "dt_hooks" and SEEN["supervised"] is True
    assert SEEN["summary"]["run_id"] == dr.run_id
    assert "dt_hooks" in SEEN["listed"] and "airflow_sync.job.dt_hooks" in SEEN["parse"]
    ((path, body),) = webhook
    assert path == "/hooks/sync"
    assert body["job_name"] == "dt_hooks" and body["status"] == "SUCCESS"
    assert body["queries"][0]["records_affected"] == 100


def test_cdata_post_job_sends_mail_and_starts_another_job(dbs, smtp_sink):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    target = store_job("dt_target", "REPLICATE [target_orders] SELECT * FROM [orders]")
    job = store_job(
        "dt_chain",
        "REPLICATE [chain_orders] SELECT * FROM [orders]",
        PostJob=(
            '<api:call op="sendEmail"><api:set attr="To" value="team@example.com"/>'
            '<api:set attr="Subject" value="chain done"/><api:set attr="Message" value="see the run"/>'
            "</api:call>"
            '<api:call op="executeJob"><api:set attr="JobName" value="dt_target"/></api:call>'
        ),
    )
    dr, states = run(job)
    assert dr.state == "success", states
    (mail,) = smtp_sink.messages
    assert mail.rcpt_tos == ["team@example.com"]
    assert email.message_from_bytes(mail.content)["Subject"] == "chain done"
    with create_session() as s:
        (started,) = s.scalars(select(DagRun).where(DagRun.dag_id == target.dag_id())).all()
        assert started.conf == {
            "job_version": target.version,
            "job_id": target.job_id,
            "event_chain": ["dt_chain"],
        }
        assert started.state == "queued"
        # the id derives from the run that started it: a retried post_job finds it instead of starting another
        assert started.run_id.startswith("manual__airflow_sync_event__")


def airflow_conn_from_url(url: str, conn_type: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return json.dumps(
        {
            "conn_type": conn_type,
            "host": u.host,
            "port": u.port,
            "login": u.username,
            "password": u.password or "",
            "schema": u.database,
        }
    )


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_replication_into_a_server_database_through_its_airflow_connection(
    dbs, backend, request, monkeypatch
):
    import sqlalchemy

    url = request.getfixturevalue("pg_url" if backend == "postgres" else "mysql_url")
    monkeypatch.setenv(f"AIRFLOW_CONN_DAG_{backend.upper()}", airflow_conn_from_url(url, backend))
    job = store_job(
        f"dt_{backend}",
        "REPLICATE [srv_orders] SELECT * FROM [orders]",
        Destination=f"dag_{backend}",
        PostJob="sql: create table srv_audit (n integer);\n"
        "insert into srv_audit select count(*) from srv_orders",
    )
    dr, states = run(job)
    assert dr.state == "success", states
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as c:
            assert c.execute(sqlalchemy.text("select count(*) from srv_orders")).scalar() == 100
            assert c.execute(sqlalchemy.text("select n from srv_audit")).scalar() == 100
    finally:
        engine.dispose()


@pytest.mark.parametrize("verbosity", [1, 3, 4, 5])
def test_each_verbosity_adds_its_detail_and_row_values_are_never_logged(dbs, verbosity, caplog, monkeypatch):
    import logging

    from airflow_sync.engine import hooks

    monkeypatch.setattr(hooks, "IN_ENGINE_COPY", False)  # the row path, which reads and writes in batches
    caplog.set_level(1, logger="airflow_sync.run")
    job = store_job(
        f"dt_verbose_{verbosity}",
        "REPLICATE [verbose_orders] SELECT * FROM [orders] WHERE customer <> 'cust-0007-private'",
        Verbosity=str(verbosity),
        BatchSize="40",
    )
    dr, _ = run(job)
    assert dr.state == "success"
    records = [r for r in caplog.records if r.name.startswith(f"airflow_sync.run.{job.name}.")]
    text = "\n".join(r.getMessage() for r in records)
    assert "private" not in text  # neither the rows' values nor the literal in the statement
    if verbosity == 1:
        assert all(r.levelno >= logging.ERROR for r in records)
        return
    assert any(r.levelno == logging.INFO and "99 rows read" in r.getMessage() for r in records)
    batches = [r for r in records if r.getMessage().startswith(("batch ", "window "))]
    statements = [r for r in records if r.getMessage().startswith("SQL: ")]
    timed = [r for r in records if r.getMessage().startswith("SQL (")]
    assert bool(batches) == (verbosity >= 3)  # 3: batches and windows
    assert bool(statements) == (verbosity == 4) and all(r.levelno == logging.DEBUG for r in statements)
    assert bool(timed) == (verbosity == 5)  # 5: each statement with its duration and row count
    if verbosity >= 4:
        shown = "\n".join(r.getMessage() for r in statements + timed)
        assert '"verbose_orders"' in shown and '"customer" <> ?' in shown


def test_a_value_that_fails_the_load_is_not_in_the_failed_task_s_log(
    dbs, request, monkeypatch, caplog, capfd
):
    """Airflow logs a failed task with its traceback and the chain of causes: the driver's exception there
    is the redacted stand-in (engine/errors.py), so the value the converter quoted never reaches the log."""
    src, _ = dbs
    with sqlite3.connect(src) as c:
        c.executescript(
            "drop table if exists bad_days; create table bad_days (id integer primary key, d date);"
            "insert into bad_days values (1, 'qzxvwk-private-value');"
        )
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("AIRFLOW_CONN_DAG_POSTGRES", airflow_conn_from_url(url, "postgres"))
    caplog.set_level("INFO")
    capfd.readouterr()
    job = store_job(
        "dt_bad_days", "REPLICATE [bad_days_out] SELECT * FROM [bad_days]", Destination="dag_postgres"
    )
    dr, states = run(job)
    assert dr.state == "failed" and states["replicate_bad_days_out"] == "failed", states
    out = capfd.readouterr()
    # the task runner's log of the failure: its traceback with the chain of causes
    printed = out.out + out.err + caplog.text
    assert "Task failed with exception" in printed
    assert "RedactedError: builtins.ValueError: Invalid isoformat string: '?'" in printed
    assert "Column 'd' of table 'bad_days_out' holds a value that cannot be written as date" in printed
    # a token no timestamp, id or path can hold (digits matched a log line's microseconds once)
    assert "qzxvwk" not in printed and "private-value" not in printed

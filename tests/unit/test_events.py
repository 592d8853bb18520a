"""PreJob / PostJob code forms (job-api §6): parsed to typed events, everything else rejected on save."""

from __future__ import annotations

import sys

import pytest

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.events import (
    CDataEvent,
    HttpEvent,
    PythonEvent,
    SendEmail,
    SqlEvent,
    parse_event,
    split_sql,
)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_is_none(text):
    assert parse_event(text, field="PreJob") is None


# --- sql ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "statements"),
    [
        ("sql: select 1", ("select 1",)),
        ("SQL:\nUPDATE t SET a = 1;\nDELETE FROM u;\n", ("UPDATE t SET a = 1", "DELETE FROM u")),
        ("sql: insert into t values ('a;b'); select 2", ("insert into t values ('a;b')", "select 2")),
        ("sql: select 'it''s; fine'; select 3", ("select 'it''s; fine'", "select 3")),
        ('sql: select "col;x" from t', ('select "col;x" from t',)),
        ("sql: select `a;b` from t", ("select `a;b` from t",)),
        ("sql: select 1 -- trailing; comment\n; select 2", ("select 1 -- trailing; comment", "select 2")),
        ("sql: select /* a; b */ 1;", ("select /* a; b */ 1",)),
        ("sql: do $$ begin perform 1; end $$; select 4", ("do $$ begin perform 1; end $$", "select 4")),
        ("sql: do $x$ a; b $x$", ("do $x$ a; b $x$",)),
        ("sql: ;; select 1 ;;", ("select 1",)),
    ],
)
def test_sql_statements_split_outside_quotes_and_comments(text, statements):
    assert parse_event(text, field="PostJob") == SqlEvent(statements)


@pytest.mark.parametrize("text", ["sql:", "sql:   ;  ; ", "sql: -- only a comment", "sql: /* nothing */"])
def test_sql_without_statements_is_rejected(text):
    with pytest.raises(JobValidationError, match="at least one SQL statement") as info:
        parse_event(text, field="PostJob")
    assert info.value.field == "PostJob"


def test_split_sql_keeps_backslash_escaped_quote_inside_string():
    assert split_sql(r"select 'a\';b'; select 2") == (r"select 'a\';b'", "select 2")


# --- http / python -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("http: POST hooks /notify", HttpEvent("POST", "hooks", "/notify")),
        ("HTTP:  get   my_api   v1/status?x=1 ", HttpEvent("GET", "my_api", "v1/status?x=1")),
        ("http: delete api /jobs/1", HttpEvent("DELETE", "api", "/jobs/1")),
        ("python: my_pkg.hooks:after_sync", PythonEvent("my_pkg.hooks", "after_sync")),
        ("python:mod:fn", PythonEvent("mod", "fn")),
    ],
)
def test_http_and_python_forms(text, event, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "my_pkg.hooks:*, mod:fn")
    assert parse_event(text, field="PreJob") == event


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("http: POST hooks", "http: <METHOD> <conn_id> <endpoint>"),
        ("http: POST hooks /a extra", "http: <METHOD> <conn_id> <endpoint>"),
        ("http: FETCH hooks /a", "GET, POST, PUT, PATCH, DELETE"),
        ("python: my_pkg.hooks", "package.module:function"),
        ("python: my-pkg:fn", "package.module:function"),
        ("python: pkg:fn()", "package.module:function"),
        ("python: 1pkg:fn", "package.module:function"),
        ("python: os:system; rm", "package.module:function"),
    ],
)
def test_http_and_python_rejections(text, needle):
    with pytest.raises(JobValidationError) as info:
        parse_event(text, field="PreJob")
    assert info.value.field == "PreJob" and needle in info.value.message


def test_python_form_imports_nothing(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "surely_not_installed_pkg.*:*")
    assert parse_event("python: surely_not_installed_pkg.x:y", field="PostJob") == PythonEvent(
        "surely_not_installed_pkg.x", "y"
    )
    assert "surely_not_installed_pkg" not in sys.modules


# --- CData XML ---------------------------------------------------------------------------------------------


def test_cdata_subset_all_supported_elements():
    text = """
    <api:script xmlns:api="http://apiscript.com/ns?v1">
      <api:info title="Pre-Job Event" desc="set variables"/>
      <api:set attr="out.env:batch" value="2024-01"/>
      <api:set attr="CancelJob" value="False"/>
      <api:call op="sendEmail">
        <api:set attr="To" value="ops@example.com, dba@example.com"/>
        <api:set attr="Subject" value="Starting"/>
        <api:set attr="Message" value="The job starts"/>
      </api:call>
      <api:call op="executeJob"><api:set attr="JobName" value="Downstream.Job"/></api:call>
      <api:push item="out"/>
    </api:script>
    """
    assert parse_event(text, field="PreJob") == CDataEvent(
        cancel_job=False,
        env={"batch": "2024-01"},
        send_emails=(SendEmail(("ops@example.com", "dba@example.com"), "Starting", "The job starts"),),
        execute_jobs=("Downstream.Job",),
    )


def test_cdata_without_wrapper_and_namespace_declaration():
    event = parse_event('<api:set attr="CancelJob" value="true"/>', field="PreJob")
    assert event == CDataEvent(cancel_job=True)


def test_cdata_call_with_input_item():
    text = (
        '<api:set attr="mail.To" value="a@example.com"/><api:set attr="mail.Subject" value="s"/>'
        '<api:call op="sendEmail" in="mail"/>'
    )
    event = parse_event(text, field="PostJob")
    assert isinstance(event, CDataEvent) and event.send_emails == (SendEmail(("a@example.com",), "s", ""),)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('<!DOCTYPE x [<!ENTITY e "boom">]><api:set attr="CancelJob" value="&e;"/>', "DOCTYPE"),
        ('<api:set attr="CancelJob" value="true">', "not well-formed"),
        ('<api:set attr="CancelJob" value="perhaps"/>', "true or false"),
        ('<api:set attr="out.env:1bad" value="x"/>', "identifier"),
        ('<api:set attr="out.env:ts" value="[null | now()]"/>', "formatters"),
        ('<api:set attr="Whatever" value="x"/>', "not supported"),
        ('<api:call op="runBatch"/>', "use sendEmail or executeJob"),
        ('<api:call op="sendEmail"><api:set attr="Subject" value="x"/></api:call>', "needs a To input"),
        ('<api:call op="sendEmail"><api:set attr="To" value="nope"/></api:call>', "e-mail"),
        (
            '<api:call op="sendEmail"><api:set attr="To" value="a@b.c"/>'
            '<api:set attr="Cc" value="x"/></api:call>',
            "unknown: cc",
        ),
        ('<api:call op="executeJob"/>', "valid JobName"),
        ('<api:call op="executeJob"><api:set attr="JobName" value="bad name"/></api:call>', "valid JobName"),
        ("<api:if attr='x' value='y'/>", "not supported"),
        ("<api:call op='sendEmail'><api:if/></api:call>", "only <api:set>"),
        ("<api:set value='x'/>", "needs an attr"),
    ],
)
def test_cdata_rejections(text, needle):
    with pytest.raises(JobValidationError) as info:
        parse_event(text, field="PreJob")
    assert info.value.field == "PreJob" and needle in info.value.message


def test_escaped_brackets_are_literal():
    event = parse_event(r'<api:set attr="out.env:tag" value="\[x\]"/>', field="PreJob")
    assert isinstance(event, CDataEvent) and event.env == {"tag": "[x]"}


@pytest.mark.parametrize("text", ["echo hi", "shell: ls", "select 1", "https://example.com", 42])
def test_anything_else_lists_the_accepted_forms(text):
    with pytest.raises(JobValidationError) as info:
        parse_event(text, field="PostJob")  # type: ignore[arg-type]
    message = info.value.message
    assert info.value.field == "PostJob"
    assert all(form in message for form in ("sql:", "http:", "python:", "api:set", "executeJob"))


# --- executeJob links ---------------------------------------------------------------------------------------


def _job(name, post=""):
    from airflow_sync.jobs.model import Job

    return Job.from_wire({"JobName": name, "Source": "s", "Destination": "d", "PostJob": post})


def _starts(target):
    return f'<api:call op="executeJob"><api:set attr="JobName" value="{target}"/></api:call>'


def test_event_links_refuse_missing_jobs_and_cycles_and_order_a_batch():
    from airflow_sync.jobs.events import check_event_links, order_by_links

    a, b, c = _job("a", _starts("b")), _job("b", _starts("c")), _job("c")
    check_event_links(a, {"b": b, "c": c})  # a -> b -> c: fine
    with pytest.raises(JobValidationError, match="job 'b', which does not exist"):
        check_event_links(a, {})
    with pytest.raises(JobValidationError, match="c -> a -> b -> c") as info:
        check_event_links(_job("c", _starts("a")), {"a": a, "b": b})
    assert info.value.field == "PostJob"
    calls = []
    check_event_links(c, lambda: calls.append(1) or {})  # no executeJob: the store is not even read
    assert calls == []
    assert [j.name for j in order_by_links([a, b, c])] == ["c", "b", "a"]


def test_follow_up_run_ids_are_the_same_on_every_attempt():
    from airflow_sync.dags.event_runner import follow_up_run_id

    first = follow_up_run_id("sync__a", "manual__1", "post", 0, "b")
    assert first == follow_up_run_id("sync__a", "manual__1", "post", 0, "b")
    assert first != follow_up_run_id("sync__a", "manual__2", "post", 0, "b")
    assert first.startswith("manual__airflow_sync_event__") and len(first) < 100

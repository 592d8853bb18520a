"""The one status vocabulary (issue #14): the rules every report of a run follows."""

from __future__ import annotations

import pytest

from airflow_sync import status as st
from airflow_sync.status import QueryFacts, RunFacts


def outcome(run: RunFacts, *queries: QueryFacts, retried=()):
    return st.describe_run(run, list(queries), retried=retried)


@pytest.mark.parametrize(
    ("ti_state", "run_state", "expected"),
    [
        ("success", "success", "SUCCESS"),
        ("failed", "failed", "FAILED"),
        ("upstream_failed", "failed", "SKIPPED"),  # never ran: an earlier part failed
        ("skipped", "success", "SKIPPED"),
        ("removed", "success", "SKIPPED"),
        (None, "success", "SKIPPED"),  # the run ended without scheduling it
        (None, "running", "QUEUED"),
        ("scheduled", "running", "QUEUED"),
        ("running", "running", "RUNNING"),
        ("up_for_retry", "running", "RUNNING"),
    ],
)
def test_query_words(ti_state, run_state, expected):
    assert (
        st.query_status(
            QueryFacts(ti_state, error="boom" if ti_state == "failed" else None), RunFacts(run_state)
        )
        == expected
    )


def test_a_query_stopped_by_cancel_is_cancelled_and_one_that_finished_is_successful():
    cancelled = RunFacts("running", cancelled_by="alice", cancel_note="Cancelled via API by alice")
    stopped = QueryFacts("failed")
    finished = QueryFacts("failed", finished_load=True, records=42)  # killed after its last COMMIT
    own_error = QueryFacts("failed", error="no such table")
    assert [st.query_status(q, cancelled) for q in (stopped, finished, own_error)] == [
        "CANCELLED",
        "SUCCESS",
        "FAILED",
    ]
    assert st.query_detail(finished, cancelled) == "42 records, finished before the cancel took effect"
    assert (
        st.query_detail(QueryFacts("failed", records=7), cancelled)
        == "Cancelled; 7 records committed before the cancel"
    )
    assert st.query_status(QueryFacts("scheduled"), cancelled) == "SKIPPED"  # it will never run


def test_a_cancelled_run_is_cancelled_unless_every_selected_query_finished():
    run = RunFacts("running", cancelled_by="alice", cancel_note="Cancelled via API by alice")
    partial = outcome(run, QueryFacts("success", records=5), QueryFacts("failed"))
    assert (partial.status, partial.detail) == ("CANCELLED", "Cancelled via API by alice")
    late = outcome(run, QueryFacts("success"), QueryFacts("failed", finished_load=True))
    assert late.status == "SUCCESS"
    assert (
        late.detail
        == "Completed; the cancel came too late, every query had finished (Cancelled via API by alice)"
    )
    unselected = outcome(run, QueryFacts("success"), QueryFacts("skipped", selected=False))
    assert unselected.status == "SUCCESS"


def test_a_prejob_cancel_ends_the_run_cancelled_and_its_queries_skipped():
    run = RunFacts("success", prejob_cancel="CancelJob", pre_state="success")
    out = outcome(run, QueryFacts("skipped"))
    assert (out.status, out.detail, out.query_statuses) == (
        "CANCELLED",
        "Cancelled by the PreJob",
        ["SKIPPED"],
    )
    assert st.query_detail(QueryFacts("skipped"), run) == "Skipped: cancelled by the prejob"
    tick = RunFacts("success", prejob_cancel="the schedule tick at X fell while ...")
    assert (
        outcome(tick, QueryFacts("skipped")).detail
        == "Cancelled by the PreJob (the schedule tick at X fell while ...)"
    )


def test_failed_runs_name_what_failed_and_their_result_is_the_data_error():
    run = RunFacts("failed", post_state="failed", post_error="PostJob: http: POST /x answered HTTP 500")
    out = outcome(run, QueryFacts("failed", error="no such table 'a'"), QueryFacts("success"))
    assert out.status == "FAILED" and out.result == "no such table 'a'"
    assert out.detail == "1 of 2 Tasks Failed; PostJob failed: PostJob: http: POST /x answered HTTP 500"
    only_post = outcome(run, QueryFacts("success"))
    assert only_post.result == "PostJob: http: POST /x answered HTTP 500"
    pre = outcome(
        RunFacts("failed", pre_state="failed", pre_error="PreJob: boom"), QueryFacts("upstream_failed")
    )
    assert (pre.detail, pre.result, pre.query_statuses) == (
        "PreJob failed: PreJob: boom",
        "PreJob: boom",
        ["SKIPPED"],
    )


def test_a_notification_failure_is_reported_without_changing_the_status_or_the_result():
    ok = outcome(RunFacts("success", notify_error="ConnectionRefusedError: refused"), QueryFacts("success"))
    assert (ok.status, ok.result) == ("SUCCESS", None)
    assert ok.detail == "Completed; notification not sent: ConnectionRefusedError: refused"
    bad = outcome(RunFacts("failed", notify_error="SMTP down"), QueryFacts("failed", error="query error"))
    assert (bad.status, bad.result) == ("FAILED", "query error")


def test_tries_show_in_details():
    out = outcome(RunFacts("success"), QueryFacts("success", tries=2, records=10), retried=["replicate_a"])
    assert out.detail == "Completed; needed more than one try: replicate_a"
    assert (
        st.query_detail(QueryFacts("success", tries=2, records=10), RunFacts("success"))
        == "10 records (2 tries)"
    )


def test_history_words():
    assert [
        st.history_word(s) for s in ("SUCCESS", "FAILED", "CANCELLED", "RUNNING", "QUEUED", "NOT STARTED")
    ] == [
        "Successful",
        "Failed",
        "Cancelled",
        "Running",
        "Queued",
        "Not Started",
    ]

"""Structure of generated job DAGs, built without a metadata DB."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import pytest

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")


def make_job(**fields):
    from airflow_sync.jobs.model import Job

    body = {
        "JobName": "orders_sync",
        "Source": "src_db",
        "Destination": "dst_db",
        "Query#1": "REPLICATE [Orders]",
        "Query#2": "REPLICATE [OrderLines] WITH TruncateTable=True SELECT * FROM [Lines] WHERE qty > 0",
        "Query#3": "REPLICATE [Customers]",
        **fields,
    }
    return Job.from_wire(body)


def build(job, **cfg):
    from airflow_sync import settings
    from airflow_sync.dags.factory import build_dag

    return build_dag(job, cfg=dataclasses.replace(settings.load(), **cfg))


def upstream(dag, task_id):
    return sorted(dag.get_task(task_id).upstream_task_ids)


def test_dag_identity_schedule_and_metadata():
    job = make_job(Scheduled="True", ScheduledCron="0 2 * * *")
    dag = build(job, owner="data-team")
    assert dag.dag_id == "sync__orders_sync"
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.is_paused_upon_creation is False
    assert set(dag.tags) == {"airflow_sync", "source:src_db", "destination:dst_db"}
    assert job.schedule == "0 2 * * *"
    assert (dag.timetable.expression, dag.timetable.timezone) == ("0 2 * * *", "UTC")
    assert {t.owner for t in dag.tasks} == {"data-team"}


def test_unscheduled_job_has_no_schedule_but_stays_runnable():
    dag = build(make_job())
    assert dag.schedule is None
    assert dag.is_paused_upon_creation is False  # a paused DAG's manual runs would stay queued


def test_task_ids_follow_the_queries_in_order():
    job = make_job()
    dag = build(job)
    ids = job.query_task_ids()
    assert len(ids) == 3 and len(set(ids)) == 3
    assert [t.task_id for t in dag.tasks] == ["pre_job", *ids, "post_job", "finish"]
    # notifications get their own teardown after post_job (a failed e-mail must not fail the run)
    mailed = build(make_job(SendEmailNotification="True", NotifyEmailTo="ops@example.com"))
    assert [t.task_id for t in mailed.tasks] == ["pre_job", *ids, "post_job", "finish", "notify"]
    notify = mailed.get_task("notify")
    assert notify.is_teardown and not notify.on_failure_fail_dagrun
    assert list(notify.upstream_task_ids) == ["post_job"]


def test_continue_on_error_false_chains_the_queries():
    job = make_job(ContinueOnError="False")
    q1, q2, q3 = job.query_task_ids()
    dag = build(job)
    assert upstream(dag, q1) == ["pre_job"]
    assert upstream(dag, q2) == [q1]
    assert upstream(dag, q3) == [q2]
    assert upstream(dag, "post_job") == [q3]
    assert {dag.get_task(q).trigger_rule for q in (q1, q2, q3)} == {"all_success"}


def test_continue_on_error_true_makes_every_query_a_leaf_in_job_order():
    job = make_job(ContinueOnError="True")
    ids = job.query_task_ids()
    dag = build(job)
    for q in ids:
        assert upstream(dag, q) == ["pre_job"]
        assert sorted(dag.get_task(q).downstream_task_ids) == ["post_job"]
    weights = [dag.get_task(q).priority_weight for q in ids]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == 3
    assert dag.max_active_tasks == 1  # default_parallelism 1: one query at a time, first query first


def test_parallelism_setting_limits_concurrent_queries():
    dag = build(make_job(ContinueOnError="False"), default_parallelism=4)
    assert dag.max_active_tasks == 4
    q1 = make_job().query_task_ids()[0]
    assert sorted(dag.get_task(q1).downstream_task_ids) == ["post_job"]


def test_post_job_is_a_teardown_and_pre_job_is_plain():
    dag = build(make_job())
    post, pre = dag.get_task("post_job"), dag.get_task("pre_job")
    assert post.is_teardown and not post.on_failure_fail_dagrun
    assert not pre.is_setup and not pre.is_teardown
    assert sorted(post.upstream_task_ids) == sorted(make_job().query_task_ids())
    # the leaf that fails the run when the PostJob failed (post_job itself is ignored for the run state)
    finish = dag.get_task("finish")
    assert list(finish.upstream_task_ids) == ["post_job"] and finish.trigger_rule == "all_success"
    assert not finish.is_teardown and not finish.downstream_task_ids


def test_every_task_is_retried_so_a_lost_worker_loses_nothing():
    job = make_job(SendEmailNotification="True", NotifyEmailTo="ops@example.com")
    dag = build(job)
    assert dag.get_task(job.query_task_ids()[0]).retries == 2
    assert [dag.get_task(t).retries for t in ("pre_job", "post_job", "notify")] == [2, 2, 2]


def test_doc_md_shows_connections_options_and_queries():
    job = make_job(TableNamePrefix="stg_", Verbosity="3")
    doc = build(job).doc_md
    assert "`src_db`" in doc and "`dst_db`" in doc
    assert "TableNamePrefix" in doc and "stg_" in doc
    for text in job.queries:
        assert text in doc
    for task_id in job.query_task_ids():
        assert task_id in doc


def test_building_is_deterministic():
    from airflow.serialization.serialized_objects import DagSerialization

    job = make_job()
    first = DagSerialization.to_dict(build(job))
    second = DagSerialization.to_dict(build(job))
    assert first == second


def test_verbosity_maps_to_log_levels():
    import logging

    from airflow_sync.dags.operators import job_logger, log_level

    levels = [log_level(v) for v in (1, 2, 3, 4, 5)]
    assert levels == [logging.ERROR, logging.INFO, logging.INFO, logging.DEBUG, 5]
    assert len(set(levels[2:])) == 3  # 3, 4 and 5 each add something
    assert job_logger("j", "t", 1).getEffectiveLevel() == logging.ERROR


def test_notification_rules():
    from airflow_sync.notifications import QueryOutcome, RunSummary, email_body, subject_for, wants_email

    job = make_job(SendEmailNotification="True", NotifyEmailTo="ops@example.com", EmailErrorOnly="True")
    ok = RunSummary("orders_sync", job.job_id, "sync__orders_sync", "r1", "SUCCESS", "SUCCESS", [])
    bad = dataclasses.replace(
        ok,
        status="FAILED",
        queries=[QueryOutcome("replicate_orders", "REPLICATE [Orders]", "FAILED", error="no such table <x>")],
    )
    assert not wants_email(job, ok) and wants_email(job, bad)
    assert wants_email(dataclasses.replace(job, email_error_only=False), ok)
    assert subject_for(job, bad) == "[airflow_sync] orders_sync Failed"
    assert subject_for(dataclasses.replace(job, notify_email_subject="Nightly"), bad) == "Nightly"
    body = email_body(bad)
    assert (
        "replicate_orders" in body and "no such table &lt;x&gt;" in body and "1 of 1 queries failed" in body
    )


def test_a_scheduled_run_that_waited_behind_another_run_skips_its_tick():
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    from airflow_sync.dags.operators import overlapped_tick

    tick = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)

    def run(kind, delay):
        return SimpleNamespace(run_type=kind, run_after=tick, logical_date=tick, start_date=tick + delay)

    assert overlapped_tick(run(DagRunType.SCHEDULED, timedelta(seconds=3))) is None  # on time
    reason = overlapped_tick(run(DagRunType.SCHEDULED, timedelta(minutes=12)))
    assert reason is not None and "2026-01-01T02:00:00+00:00" in reason
    assert overlapped_tick(run(DagRunType.MANUAL, timedelta(hours=5))) is None  # manual runs always run


def test_on_kill_cancels_the_running_replication():
    from airflow_sync.dags.operators import ReplicateOperator
    from airflow_sync.engine.cancel import CancelToken

    op = ReplicateOperator(task_id="replicate_orders", job_name="j", query_id="replicate_orders")
    op.on_kill()  # nothing running yet: a no-op
    token = op._token = CancelToken()
    interrupted = []
    token.register(lambda: interrupted.append(True))
    op.on_kill()
    assert token.cancelled and interrupted == [True]


def test_a_cancelled_query_records_no_error_of_its_own():
    # the API reports a failed query of a cancelled run as CANCELLED only when the query pushed no error XCom
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from airflow_sync.dags.operators import ReplicateOperator
    from airflow_sync.exceptions import ReplicationCancelled, TerminalReplicationError

    pushed: list[tuple[str, str]] = []
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.append((key, value)))
    op = ReplicateOperator(task_id="replicate_orders", job_name="j", query_id="replicate_orders")
    with pytest.raises(AirflowFailException):
        op._fail({"ti": ti}, ReplicationCancelled("Cancelled while reading 'orders'"))
    assert pushed == []
    with pytest.raises(AirflowFailException):
        op._fail({"ti": ti}, TerminalReplicationError("table 'orders' has no column 'x'"))
    assert pushed == [("error", {"message": "table 'orders' has no column 'x'", "try": 1})]

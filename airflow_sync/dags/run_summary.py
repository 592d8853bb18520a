"""The run summary as a task of the run sees it (Task SDK): task states, XComs, commit records.

``post_job`` builds it for the PostJob code; ``notify`` builds it again after the PostJob, with its outcome.
The words and rules are :mod:`airflow_sync.status`'s, so the summary says what the API says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_sync import markers
from airflow_sync import status as st
from airflow_sync.dags.operators import ERROR_KEY, POST_JOB, PRE_JOB, conf_of, task_store
from airflow_sync.notifications import CANCELLED_BY_CONF_KEY, QueryOutcome, RunSummary

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sync.jobs.model import Job


def error_text(value: Any) -> str | None:
    """The message of an ``error`` XCom (a dict with ``message``, or older plain text)."""
    if isinstance(value, dict):
        value = value.get("message")
    return value if isinstance(value, str) and value else None


def _try_of(*values: Any) -> int | None:
    for value in values:
        number = value.get("try_number", value.get("try")) if isinstance(value, dict) else None
        if isinstance(number, int):
            return number
    return None


def cancelled_by(context: Context) -> str | None:
    """Who cancelled this run through cancelJob: the conf (set before the run is stopped), or the cancel
    key in this task's state store (written for every task, also once this task is running)."""
    from airflow_sync.dags.cancel_watch import cancel_requested

    who = conf_of(context).get(CANCELLED_BY_CONF_KEY)
    if who:
        return str(who)
    store = task_store(context)
    if store is None:
        return None
    try:
        return cancel_requested(store)
    except Exception:
        return None


def collect(
    context: Context,
    job: Job,
    query_ids: tuple[str, ...],
    *,
    post_error: str | None = None,
    with_post: bool = False,
) -> RunSummary:
    """The run's outcome, as if it ended now.

    :param context: the running task's context (post_job or notify)
    :param job: the job
    :param query_ids: the query task ids, in job order
    :param post_error: the PostJob's error text (notify reads it from post_job's XCom)
    :param with_post: whether post_job is over (notify): its state counts
    """
    ti = context["ti"]
    run_id = context["run_id"]
    conf = conf_of(context)
    wanted = [PRE_JOB, *query_ids] + ([POST_JOB] if with_post else [])
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=wanted, run_ids=[run_id]).get(run_id, {})
    pre_value = ti.xcom_pull(task_ids=PRE_JOB) or {}
    pre_value = pre_value if isinstance(pre_value, dict) else {}
    pre_state = states.get(PRE_JOB)
    pre_error = error_text(ti.xcom_pull(task_ids=PRE_JOB, key=ERROR_KEY)) if pre_state == "failed" else None
    post_state = states.get(POST_JOB) if with_post else None
    if with_post and post_state == "failed" and post_error is None:
        post_error = error_text(ti.xcom_pull(task_ids=POST_JOB, key=ERROR_KEY)) or "PostJob failed"
    selection = conf.get("queries") or None
    texts = dict(zip(job.query_task_ids(), job.queries, strict=False))
    facts: list[st.QueryFacts] = []
    details: list[dict[str, Any]] = []
    for task_id in query_ids:
        state = states.get(task_id)
        result = ti.xcom_pull(task_ids=task_id)
        result = result if isinstance(result, dict) else {}
        err_value = ti.xcom_pull(task_ids=task_id, key=ERROR_KEY) if state == "failed" else None
        doc = ti.xcom_pull(task_ids=task_id, key=markers.COMMITS_XCOM)
        tries_done = markers.tries(doc)
        tries = _try_of(result, err_value) or (max(tries_done) if tries_done else 1)
        counts = markers.committed_counts(doc) if tries_done else markers.counts(result)
        facts.append(
            st.QueryFacts(
                state=state,
                error=error_text(err_value),
                finished_load=markers.finished_load(doc, tries),
                selected=not selection or task_id in selection,
                tries=tries,
                records=counts["records_affected"],
            )
        )
        details.append(counts)
    prejob_cancel = None
    if pre_value.get("cancel_job"):
        prejob_cancel = str(pre_value.get("skipped_tick") or "CancelJob")
    failed_part = pre_state in ("failed", "upstream_failed") or any(
        f.state == "failed" and not f.finished_load for f in facts
    )
    run = st.RunFacts(
        state="failed" if failed_part or post_state == "failed" else "success",
        cancelled_by=cancelled_by(context),
        prejob_cancel=prejob_cancel,
        pre_state=pre_state,
        pre_error=pre_error,
        post_state=post_state,
        post_error=post_error,
    )
    outcome = st.describe_run(run, facts)
    queries = [
        QueryOutcome(
            task_id=task_id,
            query=texts.get(task_id, ""),
            status=status,
            detail=st.query_detail(f, run, status),
            tries=f.tries,
            error=f.error if status == st.FAILED else None,
            **counts,
        )
        for task_id, f, status, counts in zip(query_ids, facts, outcome.query_statuses, details, strict=True)
    ]
    dag_run = context.get("dag_run")
    started = getattr(dag_run, "start_date", None)
    return RunSummary(
        job_name=job.name,
        job_id=job.job_id,
        dag_id=ti.dag_id,
        run_id=run_id,
        status=outcome.status,
        detail=outcome.detail,
        pre_job=_event_word(pre_state),
        pre_job_error=pre_error,
        post_job=_event_word(post_state) if with_post else st.RUNNING,
        post_job_error=post_error,
        queries=queries,
        source=job.source,
        destination=job.destination,
        start_date=started.isoformat() if started is not None else None,
        end_date=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _event_word(state: str | None) -> str:
    if state == "success":
        return st.SUCCESS
    if state == "failed":
        return st.FAILED
    if state in ("skipped", "upstream_failed", "removed"):
        return st.SKIPPED
    if state is None or state in ("none", "scheduled", "queued"):
        return st.NOT_STARTED
    return st.RUNNING

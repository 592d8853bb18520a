"""The one status vocabulary of airflow_sync and how Airflow's states map onto it (job-api.md §4, §6).

Every place that describes a run uses this module: the API's result rows (executeJob, executeQuery,
cancelJob, getJobStatus), history, the jobs' ``Status``, the ``post_job`` run summary (webhook body, PostJob
``python:`` argument) and the notification e-mail — so a run is never ``FAILED`` in one and ``NOT RUN`` in
another. The UI shows the API's words.

Words: ``NOT STARTED QUEUED RUNNING SUCCESS FAILED CANCELLED SKIPPED`` for runs and queries, and the
history words ``Queued Running Successful Failed Cancelled`` (``Not Started`` for a job that never ran).

Rules, in one place:

* a query that never ran (not selected, PreJob failed or cancelled, an earlier query failed without
  ContinueOnError, the run was cancelled before it started) is ``SKIPPED``;
* a query stopped by cancelJob is ``CANCELLED``; one whose load finished before the cancel took effect is
  ``SUCCESS`` (its commit won the race), whatever Airflow's task state says;
* a run cancelled through cancelJob is ``CANCELLED``, unless every query it selected finished anyway (then
  ``SUCCESS`` with a Detail saying the cancel came too late); a PreJob ``CancelJob`` ends the run
  ``CANCELLED`` ("cancelled by the PreJob");
* otherwise a run is what Airflow says: a failed PreJob, query or PostJob fails it; a notification that
  could not be sent is reported in ``Detail`` without changing the status.

No Airflow imports: callers pass Airflow's state strings and what they read from XCom and the task state
store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

NOT_STARTED = "NOT STARTED"
QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
SKIPPED = "SKIPPED"
#: every status word of the API (result rows, run summary, e-mail, webhook)
STATUSES = (NOT_STARTED, QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED, SKIPPED)
#: a run in one of these has an outcome that will not change
FINAL = frozenset({SUCCESS, FAILED, CANCELLED})

#: status -> the History / jobs ``Status`` word
_HISTORY_WORDS = {
    NOT_STARTED: "Not Started",
    QUEUED: "Queued",
    RUNNING: "Running",
    SUCCESS: "Successful",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
}

#: Airflow task-instance states, grouped
_PENDING = frozenset({"none", "scheduled", "queued"})
_ACTIVE = frozenset(
    {"running", "restarting", "up_for_retry", "up_for_reschedule", "deferred", "awaiting_input"}
)
_NEVER_RAN = frozenset({"skipped", "removed", "upstream_failed"})

#: Detail of a PreJob ``CancelJob`` run (spec §6)
CANCELLED_BY_PREJOB = "Cancelled by the PreJob"


def history_word(status: str) -> str:
    """The History / jobs ``Status`` word for a run status (``SUCCESS`` -> ``Successful``)."""
    return _HISTORY_WORDS.get(status, status.title())


@dataclass(frozen=True)
class QueryFacts:
    """What is known about one query task of a run.

    :param state: Airflow's task-instance state (None or ``"none"``: not scheduled yet)
    :param error: the query's own error text (its ``error`` XCom or log), None when it has none
    :param finished_load: its latest try finished the whole load (commit marker ``done``): the commit won
        over any cancel or kill that came after it
    :param selected: False when the run's ``queries`` conf left it out (executeQuery)
    :param tries: how many tries ran (Airflow's ``try_number``)
    :param records: records affected by every try that committed
    """

    state: str | None
    error: str | None = None
    finished_load: bool = False
    selected: bool = True
    tries: int = 1
    records: int | None = None


@dataclass(frozen=True)
class RunFacts:
    """What is known about one run.

    :param state: the DagRun's state (``queued running success failed``), None when there is no run
    :param cancelled_by: who cancelled it through cancelJob (None: nobody)
    :param cancel_note: the first line of the cancel's DagRun note (``Cancelled via API by alice``)
    :param prejob_cancel: why the PreJob cancelled the run (``CancelJob``, or a skipped schedule tick); None
    :param pre_state: Airflow state of ``pre_job``
    :param pre_error: the PreJob's error text
    :param post_state: Airflow state of ``post_job``
    :param post_error: the PostJob's error text
    :param notify_error: why a notification could not be sent (never changes the status)
    """

    state: str | None
    cancelled_by: str | None = None
    cancel_note: str | None = None
    prejob_cancel: str | None = None
    pre_state: str | None = None
    pre_error: str | None = None
    post_state: str | None = None
    post_error: str | None = None
    notify_error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


def _norm(state: str | None) -> str:
    return "none" if state is None else str(state).lower()


def query_status(q: QueryFacts, run: RunFacts) -> str:
    """The status word of one query in one run."""
    state = _norm(q.state)
    if state == "success" or (state == "failed" and q.finished_load):
        return SUCCESS
    if state in _ACTIVE:
        return RUNNING
    if state in _PENDING:
        # a finished run never ran it; a cancelled run will not
        return QUEUED if run.active and not run.cancelled_by and not run.prejob_cancel else SKIPPED
    if state in _NEVER_RAN:
        return SKIPPED
    if state == "failed":
        return CANCELLED if run.cancelled_by and not q.error else FAILED
    return QUEUED


def skip_reason(q: QueryFacts, run: RunFacts) -> str:
    """Why a SKIPPED query did not run."""
    if not q.selected:
        return "Skipped: not selected for this run"
    if run.prejob_cancel:
        return f"Skipped: {CANCELLED_BY_PREJOB.lower()}"
    if _norm(run.pre_state) in ("failed", "upstream_failed"):
        return "Skipped: the PreJob failed"
    if run.cancelled_by:
        return "Skipped: the run was cancelled before it started"
    if _norm(q.state) == "upstream_failed":
        return "Skipped: an earlier query failed (ContinueOnError is off)"
    return "Skipped"


def _tries(q: QueryFacts) -> str:
    return f" ({q.tries} tries)" if q.tries > 1 else ""


def query_detail(q: QueryFacts, run: RunFacts, status: str | None = None) -> str:
    """The ``Detail`` of a query row: records, tries, why it was skipped."""
    status = status or query_status(q, run)
    if status == SUCCESS:
        late = ", finished before the cancel took effect" if run.cancelled_by and q.finished_load else ""
        return f"{q.records or 0} records{_tries(q)}{late}"
    if status == FAILED:
        return f"Failed{_tries(q)}"
    if status == CANCELLED:
        done = f"; {q.records} records committed before the cancel" if q.records else ""
        return f"Cancelled{done}"
    if status == SKIPPED:
        return skip_reason(q, run)
    if status == RUNNING:
        return f"In progress (try {q.tries})" if q.tries > 1 else "In progress"
    return {QUEUED: "Queued", NOT_STARTED: "Not started"}.get(status, status.title())


def run_status(run: RunFacts, queries: Sequence[QueryFacts]) -> str:
    """The status word of a run."""
    if run.state is None:
        return NOT_STARTED
    if run.cancelled_by:
        selected = [q for q in queries if q.selected]
        if selected and all(query_status(q, run) == SUCCESS for q in selected):
            return SUCCESS  # every load finished before the cancel took effect
        return CANCELLED
    if run.prejob_cancel:
        return CANCELLED
    state = _norm(run.state)
    if state == "queued":
        return QUEUED
    if state == "running":
        return RUNNING
    if state == "success":
        return SUCCESS
    return FAILED


@dataclass
class RunOutcome:
    """A run described in the vocabulary: status, one-line detail, error text, per-query statuses."""

    status: str
    detail: str
    result: str | None = None
    query_statuses: list[str] = field(default_factory=list)


def describe_run(run: RunFacts, queries: Sequence[QueryFacts], *, retried: Sequence[str] = ()) -> RunOutcome:
    """Status, ``Detail``/``Details`` and ``Result`` of a run.

    :param run: the run
    :param queries: its queries in job order
    :param retried: names of the queries that needed more than one try (for the Detail)
    """
    status = run_status(run, queries)
    statuses = [query_status(q, run) for q in queries]
    failed = [q for q, s in zip(queries, statuses, strict=True) if s == FAILED]
    result = None
    if status == QUEUED:
        detail = "Queued"
    elif status == RUNNING:
        detail = "In progress"
    elif status == NOT_STARTED:
        detail = "Not started"
    elif status == CANCELLED:
        if run.cancelled_by:
            detail = run.cancel_note or f"Cancelled via API by {run.cancelled_by}"
        else:
            detail = CANCELLED_BY_PREJOB
            if run.prejob_cancel and run.prejob_cancel != "CancelJob":
                detail += f" ({run.prejob_cancel})"
    elif status == SUCCESS:
        detail = "Completed"
        if run.cancelled_by:
            who = run.cancel_note or f"Cancelled via API by {run.cancelled_by}"
            detail += f"; the cancel came too late, every query had finished ({who})"
    else:
        parts = []
        if failed:
            parts.append(f"{len(failed)} of {len(queries)} Tasks Failed")
            result = next((q.error for q in failed if q.error), None)
        if _norm(run.pre_state) == "failed":
            parts.append("PreJob failed" + (f": {run.pre_error}" if run.pre_error else ""))
            result = result or run.pre_error
        if _norm(run.post_state) == "failed" or run.post_error:
            parts.append("PostJob failed" + (f": {run.post_error}" if run.post_error else ""))
            result = result or run.post_error
        detail = "; ".join(parts) or "Failed"
        result = result or detail
    if status in FINAL and retried:
        detail += f"; needed more than one try: {', '.join(retried)}"
    if run.notify_error and status in FINAL:
        detail += f"; notification not sent: {run.notify_error}"
    return RunOutcome(status, detail, result, statuses)

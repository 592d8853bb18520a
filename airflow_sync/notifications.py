"""Run outcome reporting: the run summary, e-mail through the smtp provider, and syslog (NotifyWindowsEvent).

The ``post_job`` teardown calls :func:`notify` once per run, after the PostJob code: it knows every
query's outcome and it also runs when queries failed or the run was cancelled. Messages carry counts,
statuses and error texts only — never row values (the engine's errors never contain them either).
"""

from __future__ import annotations

import html
import logging
import logging.handlers
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

SYSLOG_SOCKET = "/dev/log"

#: run conf key that cancelJob sets (to the cancelling user) before it marks the run failed: the DagRun note
#: that the UI shows does not reach task processes, the conf does — so post_job can report CANCELLED
CANCELLED_BY_CONF_KEY = "cancelled_by"

#: Airflow task state -> status word of the per-query rows (the API's vocabulary)
_QUERY_STATUS = {
    "success": "SUCCESS",
    "failed": "FAILED",
    "upstream_failed": "NOT RUN",
    "skipped": "SKIPPED",
    "removed": "REMOVED",
    "running": "RUNNING",
    "queued": "QUEUED",
    "scheduled": "QUEUED",
    "up_for_retry": "RETRYING",
}
#: run status -> word used in the default subject (as the history's Status column)
_SUBJECT_WORD = {"SUCCESS": "Successful", "FAILED": "Failed", "SKIPPED": "Skipped", "CANCELLED": "Cancelled"}


@dataclass
class QueryOutcome:
    """What one query task did in this run."""

    task_id: str
    query: str
    status: str
    rows_read: int = 0
    records_affected: int = 0
    error: str | None = None


@dataclass
class RunSummary:
    """The outcome of one run, as given to PostJob code, webhooks and notifications."""

    job_name: str
    job_id: str
    dag_id: str
    run_id: str
    status: str  # SUCCESS, FAILED, CANCELLED or SKIPPED
    pre_job: str
    queries: list[QueryOutcome] = field(default_factory=list)
    post_job_error: str | None = None

    @property
    def failed_queries(self) -> int:
        return sum(1 for q in self.queries if q.status in ("FAILED", "NOT RUN"))

    @property
    def records_affected(self) -> int:
        return sum(q.records_affected for q in self.queries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (PostJob ``python:`` argument and ``http:`` body)."""
        d = asdict(self)
        d["records_affected"] = self.records_affected
        return d


def query_status(ti_state: str | None) -> str:
    """The per-query status word for an Airflow task state (None = never scheduled)."""
    if ti_state is None:
        return "NOT STARTED"
    return _QUERY_STATUS.get(str(ti_state), str(ti_state).upper())


def run_status(pre_job_state: str | None, queries: list[QueryOutcome], *, cancelled: bool = False) -> str:
    """CANCELLED when cancelJob stopped the run, FAILED when the PreJob or any query failed (or could not run
    because of a failure), SKIPPED when no query ran, SUCCESS otherwise."""
    if cancelled:
        return "CANCELLED"
    if pre_job_state in ("failed", "upstream_failed") or any(
        q.status in ("FAILED", "NOT RUN") for q in queries
    ):
        return "FAILED"
    if queries and all(q.status == "SKIPPED" for q in queries):
        return "SKIPPED"
    return "SUCCESS"


def subject_for(job: Job, summary: RunSummary) -> str:
    """``NotifyEmailSubject`` when set, else ``[airflow_sync] <JobName> <Status>``."""
    if job.notify_email_subject:
        return job.notify_email_subject
    return f"[airflow_sync] {job.name} {_SUBJECT_WORD.get(summary.status, summary.status.title())}"


def email_body(summary: RunSummary) -> str:
    """HTML body: the run, then one row per query with its status, rows and error."""
    e = html.escape
    rows = "".join(
        "<tr>"
        f"<td>{e(q.task_id)}</td><td><code>{e(q.query)}</code></td><td>{e(q.status)}</td>"
        f"<td>{q.rows_read}</td><td>{q.records_affected}</td><td>{e(q.error or '')}</td>"
        "</tr>"
        for q in summary.queries
    )
    post = f"<p>PostJob failed: {e(summary.post_job_error)}</p>" if summary.post_job_error else ""
    return (
        f"<p>Job <b>{e(summary.job_name)}</b> run <code>{e(summary.run_id)}</code>: "
        f"<b>{e(summary.status)}</b> ({summary.failed_queries} of {len(summary.queries)} queries failed, "
        f"{summary.records_affected} records affected). PreJob: {e(summary.pre_job)}.</p>"
        "<table border='1' cellpadding='4' cellspacing='0'>"
        "<tr><th>Task</th><th>Query</th><th>Status</th><th>Rows read</th><th>Records affected</th>"
        f"<th>Error</th></tr>{rows}</table>{post}"
    )


def wants_email(job: Job, summary: RunSummary) -> bool:
    """SendEmailNotification on, and either every run or (EmailErrorOnly) only failed or cancelled ones."""
    if not job.send_email_notification or not job.notify_email_to.strip():
        return False
    return summary.status in ("FAILED", "CANCELLED") or not job.email_error_only


def send_email(
    to: list[str] | tuple[str, ...], subject: str, html_content: str, *, conn_id: str | None = None
) -> None:
    """Send one e-mail through the smtp provider's SmtpHook.

    :param to: recipient addresses
    :param subject: subject line
    :param html_content: HTML body
    :param conn_id: SMTP connection id (default: ``[airflow_sync] smtp_conn_id``)
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from airflow_sync import settings

    conn_id = conn_id or settings.get_str("smtp_conn_id")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=list(to),
            subject=subject,
            html_content=html_content,
            from_email=hook.from_email or settings.get_str("email_from"),
        )
    log.info("Sent e-mail %r to %d recipient(s)", subject, len(to))


def syslog_failure(summary: RunSummary, *, address: str = SYSLOG_SOCKET) -> bool:
    """Write a failed run to the host's syslog (NotifyWindowsEvent). Returns False when there is none.

    :param summary: the run outcome
    :param address: syslog socket path
    """
    if not os.path.exists(address):
        log.debug("No syslog socket at %s; NotifyWindowsEvent skipped", address)
        return False
    handler = logging.handlers.SysLogHandler(address=address)
    try:
        failed = ", ".join(q.task_id for q in summary.queries if q.status in ("FAILED", "NOT RUN")) or "-"
        record = logging.LogRecord(
            "airflow_sync",
            logging.ERROR,
            __file__,
            0,
            "airflow_sync: job %s run %s failed (%d of %d queries failed: %s)",
            (summary.job_name, summary.run_id, summary.failed_queries, len(summary.queries), failed),
            None,
        )
        handler.emit(record)
    finally:
        handler.close()
    return True


def notify(job: Job, summary: RunSummary) -> list[str]:
    """Send every notification the job asks for; returns what was done (for the task log).

    :param job: the job (notification fields)
    :param summary: the run outcome
    """
    done = []
    if wants_email(job, summary):
        send_email(job.notify_email_recipients, subject_for(job, summary), email_body(summary))
        done.append("email")
    if job.notify_windows_event and summary.status == "FAILED" and syslog_failure(summary):
        done.append("syslog")
    return done

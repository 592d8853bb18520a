"""Run outcome reporting: the run summary, e-mail through the smtp provider, and syslog (NotifyWindowsEvent).

The ``post_job`` teardown builds a :class:`RunSummary` for the PostJob code (``python:`` argument, ``http:``
body); the ``notify`` teardown builds it again once the PostJob has run and sends the job's notifications
with it. Status words come from :mod:`airflow_sync.status`, as in the API. Messages carry counts, statuses
and (redacted) error texts only — never row values.
"""

from __future__ import annotations

import html
import logging
import logging.handlers
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_sync import status as st

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

SYSLOG_SOCKET = "/dev/log"

#: run conf key that cancelJob sets (to the cancelling user) before it stops the run: the DagRun note that the
#: UI shows does not reach task processes, the conf does
CANCELLED_BY_CONF_KEY = "cancelled_by"


@dataclass
class QueryOutcome:
    """What one query task did in this run (counts over every try that committed)."""

    task_id: str
    query: str
    status: str
    detail: str = ""
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    records_affected: int = 0
    tries: int = 1
    error: str | None = None


@dataclass
class RunSummary:
    """The outcome of one run, as given to PostJob code, webhooks and notifications.

    ``status`` is one of :data:`airflow_sync.status.STATUSES`; ``pre_job`` / ``post_job`` are the status
    words of those tasks; times are ISO-8601 with offset.
    """

    job_name: str
    job_id: str
    dag_id: str
    run_id: str
    status: str
    pre_job: str
    queries: list[QueryOutcome] = field(default_factory=list)
    post_job_error: str | None = None
    detail: str = ""
    source: str = ""
    destination: str = ""
    start_date: str | None = None
    end_date: str | None = None
    pre_job_error: str | None = None
    post_job: str = st.NOT_STARTED
    notification_error: str | None = None

    @property
    def failed_queries(self) -> int:
        return sum(1 for q in self.queries if q.status == st.FAILED)

    @property
    def records_affected(self) -> int:
        return sum(q.records_affected for q in self.queries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (PostJob ``python:`` argument and ``http:`` body)."""
        d = asdict(self)
        d["records_affected"] = self.records_affected
        d["failed_queries"] = self.failed_queries
        return d


def subject_for(job: Job, summary: RunSummary) -> str:
    """``NotifyEmailSubject`` when set, else ``[airflow_sync] <JobName> <Status>`` (history's word)."""
    if job.notify_email_subject:
        return job.notify_email_subject
    return f"[airflow_sync] {job.name} {st.history_word(summary.status)}"


def email_body(summary: RunSummary) -> str:
    """HTML body: the run (times, connections, outcome), then one row per query."""
    e = html.escape
    rows = "".join(
        "<tr>"
        f"<td>{e(q.task_id)}</td><td><code>{e(q.query)}</code></td><td>{e(q.status)}</td>"
        f"<td>{q.rows_read}</td><td>{q.rows_inserted}</td><td>{q.rows_updated}</td><td>{q.rows_deleted}</td>"
        f"<td>{q.tries}</td><td>{e(q.detail)}</td><td>{e(q.error or '')}</td>"
        "</tr>"
        for q in summary.queries
    )
    extra = ""
    if summary.pre_job_error:
        extra += f"<p>PreJob failed: {e(summary.pre_job_error)}</p>"
    if summary.post_job_error:
        extra += f"<p>PostJob failed: {e(summary.post_job_error)}</p>"
    return (
        f"<p>Job <b>{e(summary.job_name)}</b> run <code>{e(summary.run_id)}</code>: "
        f"<b>{e(summary.status)}</b> — {e(summary.detail)} "
        f"({summary.failed_queries} of {len(summary.queries)} queries failed, "
        f"{summary.records_affected} records affected).</p>"
        f"<p>Source <code>{e(summary.source)}</code> → Destination <code>{e(summary.destination)}</code>; "
        f"started {e(summary.start_date or '-')}, ended {e(summary.end_date or '-')}; "
        f"PreJob {e(summary.pre_job)}, PostJob {e(summary.post_job)}.</p>"
        "<table border='1' cellpadding='4' cellspacing='0'>"
        "<tr><th>Task</th><th>Query</th><th>Status</th><th>Rows read</th><th>Inserted</th><th>Updated</th>"
        f"<th>Deleted</th><th>Tries</th><th>Detail</th><th>Error</th></tr>{rows}</table>{extra}"
    )


def wants_email(job: Job, summary: RunSummary) -> bool:
    """SendEmailNotification on, and either every run or (EmailErrorOnly) only failed runs and runs
    cancelled through cancelJob — not a run the PreJob cancelled (spec §6)."""
    if not job.send_email_notification or not job.notify_email_to.strip():
        return False
    if not job.email_error_only:
        return True
    if summary.status == st.FAILED:
        return True
    return summary.status == st.CANCELLED and not summary.detail.startswith(st.CANCELLED_BY_PREJOB)


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


def syslog_failure(summary: RunSummary, *, address: str | None = None, logger: Any = None) -> bool:
    """Write a failed run to the host's syslog (NotifyWindowsEvent). Returns False when there is none.

    Without a syslog socket the failure goes nowhere: that is said once, as a warning in the task log.

    :param summary: the run outcome
    :param address: syslog socket path (default :data:`SYSLOG_SOCKET`)
    :param logger: where the warning goes (the task's logger)
    """
    address = address or SYSLOG_SOCKET
    if not os.path.exists(address):
        (logger or log).warning(
            "NotifyWindowsEvent: this host has no syslog socket at %s; the failure of run %s was not written "
            "to a system log",
            address,
            summary.run_id,
        )
        return False
    handler = logging.handlers.SysLogHandler(address=address)
    try:
        failed = ", ".join(q.task_id for q in summary.queries if q.status == st.FAILED) or "-"
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


def wants_notification(job: Job) -> bool:
    """Whether the job sends any notification (then its DAG has a ``notify`` task)."""
    return bool(job.send_email_notification and job.notify_email_to.strip()) or bool(job.notify_windows_event)


def send_notifications(
    job: Job, summary: RunSummary, *, logger: Any = None, skip: frozenset[str] = frozenset()
) -> tuple[list[str], BaseException | None]:
    """Send every notification the job asks for (each tried even when another fails).

    :param job: the job (notification fields)
    :param summary: the run outcome
    :param skip: notifications already sent by an earlier attempt (``email``, ``syslog``)
    :returns: what was sent, and the first error (None when everything went out)
    """
    done: list[str] = []
    error: BaseException | None = None
    if "email" not in skip and wants_email(job, summary):
        try:
            send_email(job.notify_email_recipients, subject_for(job, summary), email_body(summary))
            done.append("email")
        except Exception as exc:
            error = exc
    if "syslog" not in skip and job.notify_windows_event and summary.status == st.FAILED:
        try:
            if syslog_failure(summary, logger=logger):
                done.append("syslog")
        except Exception as exc:
            error = error or exc
    return done, error


def notify(job: Job, summary: RunSummary, *, logger: Any = None) -> list[str]:
    """:func:`send_notifications`, raising the first error."""
    done, error = send_notifications(job, summary, logger=logger)
    if error is not None:
        raise error
    return done

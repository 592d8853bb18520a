"""The event tasks of a job DAG: ``pre_job`` and ``post_job`` (:class:`JobEventOperator`) and ``notify``
(:class:`NotifyOperator`).

* ``pre_job`` runs the PreJob; its ``CancelJob`` ends the run Cancelled ("cancelled by the PreJob"): the
  queries skip themselves, and neither the PostJob nor an error-only e-mail follows.
* ``post_job`` (a teardown: it runs after failures and cancels) runs the PostJob with the run summary. A
  PostJob that fails fails this task, and the ``finish`` leaf downstream of it fails the run. A run that
  failed or was cancelled starts no follow-up job (``executeJob``).
* ``notify`` (a teardown after ``post_job``, only in DAGs of jobs with notifications) sends the e-mail and the
  syslog message with the final outcome. A notification that cannot be sent fails this task — visible in
  Airflow, in Details and getJobStatus — but not the run: the data outcome stays what it was.

All three are retried, so a lost worker does not lose them; each PreJob/PostJob form's delivery semantics
are in :mod:`airflow_sync.dags.event_runner`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_sync import status as st
from airflow_sync.dags.operators import (
    POST_JOB,
    PRE_JOB,
    _JobTask,
    conf_of,
    job_logger,
    overlapped_tick,
    push_error,
    task_store,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sync.dags.event_runner import EventFailed, RunContext
    from airflow_sync.jobs.model import Job

#: task state store key of ``notify``: what an earlier attempt already sent (a retry does not repeat it)
NOTIFIED_KEY = "airflow_sync.notified"


def _stored_job(name: str, log: Any) -> Job | None:
    """The job as stored now — no version check: an outcome is reported even when the job changed."""
    from airflow_sync.exceptions import JobNotFoundError
    from airflow_sync.jobs import store

    try:
        return store.get_job(name)
    except JobNotFoundError:
        log.warning("job %s no longer exists; nothing to report to", name)
        return None


class JobEventOperator(_JobTask):
    """Run the job's PreJob (``phase="pre"``) or PostJob (``phase="post"``) code.

    ``pre``: returns ``{"cancel_job": bool, "env": {...}}`` for the query tasks.
    ``post`` (a teardown): builds the run summary and runs the PostJob code with it; returns the summary.

    :param job_name: JobName
    :param phase: ``"pre"`` or ``"post"``
    :param query_ids: the query task ids in job order (post_job reads their outcome)
    """

    template_fields: tuple[str, ...] = ("job_name",)
    ui_color = "#f6ecd2"

    def __init__(
        self, *, job_name: str, phase: str, query_ids: tuple[str, ...] = (), verbosity: int = 2, **kwargs: Any
    ) -> None:
        if phase not in ("pre", "post"):
            raise ValueError("phase must be 'pre' or 'post'")
        kwargs.setdefault("task_id", PRE_JOB if phase == "pre" else POST_JOB)
        super().__init__(job_name=job_name, **kwargs)
        self.phase = phase
        self.query_ids = tuple(query_ids)
        self.verbosity = verbosity

    @property
    def _field(self) -> str:
        return "PreJob" if self.phase == "pre" else "PostJob"

    def execute(self, context: Context) -> dict[str, Any]:
        return self._pre(context) if self.phase == "pre" else self._post(context)

    def _event(self, context: Context, job: Job) -> Any:
        """The parsed event; one no longer valid (e.g. its python: callable left the allow-list) fails the
        task at once, before anything is imported."""
        from airflow_sync.dags.event_runner import EventFailed
        from airflow_sync.exceptions import JobValidationError
        from airflow_sync.jobs.events import parse_event

        try:
            return parse_event(job.pre_job if self.phase == "pre" else job.post_job, field=self._field)
        except JobValidationError as exc:
            self._failed(context, EventFailed(exc.message.removeprefix(f"{self._field}: ")))

    def _context(self, context: Context, *, follow_ups: bool, why_not: str = "") -> RunContext:
        from airflow_sync.dags.event_runner import CHAIN_CONF_KEY, RunContext, trigger_through_sdk
        from airflow_sync.dags.run_summary import cancelled_by

        chain = conf_of(context).get(CHAIN_CONF_KEY) or []
        return RunContext(
            dag_id=context["ti"].dag_id,
            run_id=context["run_id"],
            phase=self.phase,
            chain=tuple(str(c) for c in chain if isinstance(c, str)),
            follow_ups=follow_ups,
            why_not=why_not,
            trigger=trigger_through_sdk,
            still_wanted=lambda: cancelled_by(context),
        )

    def _failed(self, context: Context, exc: EventFailed) -> NoReturn:
        message = f"{self._field}: {exc.message}"
        push_error(context, message, self.log)
        if exc.retryable:
            raise AirflowException(message)  # another attempt may succeed (Airflow retries)
        raise AirflowFailException(message)

    def _pre(self, context: Context) -> dict[str, Any]:
        from airflow_sync.dags.cancel_watch import cancel_requested
        from airflow_sync.dags.event_runner import EventFailed, run_event

        job = self.load_job(context)
        late = overlapped_tick(context.get("dag_run"))
        if late:
            self.log.info("Skipping this run: %s", late)
            return {"cancel_job": True, "env": {}, "skipped_tick": late}
        store = task_store(context)
        if store is not None and (who := cancel_requested(store)) is not None:
            raise AirflowSkipException(f"the run was cancelled by {who} before the PreJob started")
        summary = {
            "job_name": job.name,
            "job_id": job.job_id,
            "run_id": context["run_id"],
            "status": st.RUNNING,
        }
        logger = job_logger(job.name, self.task_id, job.verbosity)
        try:
            result = run_event(
                self._event(context, job),
                job=job,
                summary=summary,
                ctx=self._context(context, follow_ups=True),
                logger=logger,
            )
        except EventFailed as exc:
            self._failed(context, exc)
        if result.cancel_job:
            logger.info("PreJob set CancelJob: this run is cancelled, its queries and PostJob do not run")
        if result.env:
            logger.info("PreJob set %d variable(s): %s", len(result.env), ", ".join(sorted(result.env)))
        return result.to_xcom()

    def _post(self, context: Context) -> dict[str, Any]:
        from airflow_sync.dags.event_runner import EventFailed, run_event
        from airflow_sync.dags.run_summary import cancelled_by, collect

        job = _stored_job(self.job_name, self.log)
        if job is None:
            return {}
        pre = context["ti"].xcom_pull(task_ids=PRE_JOB) or {}
        if isinstance(pre, dict) and pre.get("cancel_job"):
            # a PreJob CancelJob (or a schedule tick that fell during another run) ends the run: no PostJob
            reason = pre.get("skipped_tick") or "the PreJob set CancelJob"
            self.log.info("Run cancelled before its queries (%s): the PostJob does not run", reason)
            return {"status": st.CANCELLED, "reason": reason}
        summary = collect(context, job, self.query_ids)
        who = cancelled_by(context)
        follow_ups = summary.status == st.SUCCESS and who is None
        why_not = f"this run was cancelled by {who}" if who else f"this run is {summary.status}"
        logger = job_logger(job.name, self.task_id, job.verbosity)
        logger.info(
            "Run %s: %s (%d of %d queries failed, %d records affected)",
            summary.run_id,
            summary.status,
            summary.failed_queries,
            len(summary.queries),
            summary.records_affected,
        )
        try:
            run_event(
                self._event(context, job),
                job=job,
                summary=summary.to_dict(),
                ctx=self._context(context, follow_ups=follow_ups, why_not=why_not),
                logger=logger,
            )
        except EventFailed as exc:
            self._failed(context, exc)
        return summary.to_dict()


class NotifyOperator(_JobTask):
    """Send the job's notifications (e-mail, syslog) with the final outcome of the run.

    A teardown after ``post_job``: it runs after failures and cancels too, and its own failure does not
    change the run's state. What an earlier attempt already sent is not sent again.

    :param job_name: JobName
    :param query_ids: the query task ids in job order
    """

    template_fields: tuple[str, ...] = ("job_name",)
    ui_color = "#f2e1f5"

    def __init__(self, *, job_name: str, query_ids: tuple[str, ...] = (), verbosity: int = 2, **kwargs: Any):
        kwargs.setdefault("task_id", "notify")
        super().__init__(job_name=job_name, **kwargs)
        self.query_ids = tuple(query_ids)
        self.verbosity = verbosity

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_sync import notifications
        from airflow_sync.dags.run_summary import collect

        job = _stored_job(self.job_name, self.log)
        if job is None:
            return {}
        pre = context["ti"].xcom_pull(task_ids=PRE_JOB) or {}
        if isinstance(pre, dict) and pre.get("skipped_tick"):
            self.log.info("Schedule tick skipped (%s); nothing to report", pre["skipped_tick"])
            return {"status": st.CANCELLED, "sent": []}
        logger = job_logger(job.name, self.task_id, job.verbosity)
        summary = collect(context, job, self.query_ids, with_post=True)
        store = task_store(context)
        sent: list[str] = []
        if store is not None:
            try:
                sent = list(store.get(NOTIFIED_KEY) or [])
            except Exception:  # at least once: send again rather than not at all
                self.log.warning("Could not read what an earlier attempt sent", exc_info=True)
        done, error = notifications.send_notifications(job, summary, logger=logger, skip=frozenset(sent))
        if done and store is not None:  # a retry does not send these again (at least once, not twice)
            try:
                store.set(NOTIFIED_KEY, sorted({*sent, *done}))
            except Exception:
                self.log.warning("Could not record what was sent; a retry may send it again", exc_info=True)
        if error is not None:
            message = f"{type(error).__name__}: {error}"
            push_error(context, message, self.log)
            logger.error("A notification of run %s could not be sent: %s", summary.run_id, message)
            raise AirflowException(f"Notification not sent: {message}") from error
        logger.info(
            "Run %s: %s; notifications sent: %s", summary.run_id, summary.status, ", ".join(done) or "none"
        )
        return {"status": summary.status, "sent": done}

"""The tasks of a job DAG: :class:`ReplicateOperator` (one per query) and :class:`JobEventOperator`
(``pre_job`` and the ``post_job`` teardown).

Nothing here connects or reads the job at parse time: tasks read the job live from the store when they
run (Task SDK), check it is the version the run was triggered for (design D10), and resolve connections
through Airflow hooks.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_sync.exceptions import JobVersionMismatchError, ReplicationCancelled, ReplicationError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sync.jobs.model import Job

PRE_JOB = "pre_job"
POST_JOB = "post_job"
#: XCom key under which a failed query task leaves its error text for post_job
ERROR_KEY = "error"
#: a scheduled run starting later than this after its tick waited behind another run (see overlapped_tick)
SCHEDULE_GRACE = timedelta(seconds=60)


def log_level(verbosity: int) -> int:
    """Job ``Verbosity`` → Python log level: 1 ERROR, 2 INFO, 3 and more DEBUG."""
    if verbosity <= 1:
        return logging.ERROR
    return logging.INFO if verbosity == 2 else logging.DEBUG


def job_logger(job_name: str, task_id: str, verbosity: int) -> logging.Logger:
    """The logger a task hands to the engine, at the job's level (Airflow captures it in the task log)."""
    logger = logging.getLogger(f"airflow_sync.run.{job_name}.{task_id}")
    logger.setLevel(log_level(verbosity))
    return logger


def _conf(context: Context) -> dict[str, Any]:
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) if dag_run is not None else None
    return dict(conf or {})


class _JobTask(BaseOperator):
    """Common part: which job, and loading it live with the D10 version check."""

    template_fields: tuple[str, ...] = ("job_name",)
    ui_color = "#e8f1fb"

    def __init__(self, *, job_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name

    def load_job(self, context: Context) -> Job:
        """The stored job; fails the task (no retry) when it changed since the run was triggered."""
        from airflow_sync.exceptions import JobNotFoundError
        from airflow_sync.jobs import store

        try:
            job = store.get_job(self.job_name)
        except JobNotFoundError as exc:
            raise AirflowFailException(f"job {self.job_name!r} no longer exists") from exc
        wanted = _conf(context).get("job_version")
        if wanted and wanted != job.version:
            err = JobVersionMismatchError(
                f"job {self.job_name!r} changed after this run was triggered (run is for version {wanted}, "
                f"the stored job is version {job.version}); start a new run to use the current definition"
            )
            raise AirflowFailException(str(err))
        return job


class ReplicateOperator(_JobTask):
    """Replicate one query of a job: ``REPLICATE ...`` from the source to the destination connection.

    Reads ``dag_run.conf``: ``queries`` (task ids to run, the others skip; absent or empty = all) and
    ``job_version`` (D10). The PreJob's ``CancelJob`` makes it skip, its ``out.env`` values fill
    ``{env:NAME}``. Transient replication errors are left to Airflow's retries; everything else fails the
    task at once.

    :param job_name: JobName
    :param query_id: the query's stable id (also the task id)
    :param verbosity: the job's Verbosity (task log level)
    """

    template_fields: tuple[str, ...] = ("job_name", "query_id")
    ui_color = "#d8ecd8"

    def __init__(self, *, job_name: str, query_id: str, verbosity: int = 2, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", query_id)
        super().__init__(job_name=job_name, **kwargs)
        self.query_id = query_id
        self.verbosity = verbosity
        self._token: Any = None

    def execute(self, context: Context) -> dict[str, Any]:
        # no key or [] (the Trigger form's default) = every query
        selected = _conf(context).get("queries")
        if selected and self.task_id not in selected:
            raise AirflowSkipException("not selected for this run (conf 'queries')")
        pre = context["ti"].xcom_pull(task_ids=PRE_JOB) or {}
        if pre.get("cancel_job"):
            raise AirflowSkipException("the PreJob event cancelled this run (CancelJob)")
        job = self.load_job(context)
        try:
            result = self._replicate(job, dict(pre.get("env") or {}))
        except ReplicationError as exc:
            if exc.transient:
                self._record_error(context, str(exc))
                raise  # a retry may succeed (connection reset, deadlock, lock timeout)
            self._fail(context, exc)
        except AirflowSkipException:
            raise
        except Exception as exc:
            self._fail(context, exc)
        self._describe_asset_events(context, job, result)
        return result

    def _replicate(self, job: Job, env: dict[str, str]) -> dict[str, Any]:
        from airflow_sync.engine.cancel import CancelToken
        from airflow_sync.engine.replicate import run_replication
        from airflow_sync.jobs.connections import sqlalchemy_url
        from airflow_sync.jobs.options import build_plan

        ids = job.query_task_ids()
        if self.query_id not in ids:
            raise AirflowFailException(
                f"query {self.query_id!r} is no longer part of job {job.name!r} (queries: {', '.join(ids)})"
            )
        stmt = job.statements[ids.index(self.query_id)]
        plan = build_plan(job, stmt, self.query_id, env)
        logger = job_logger(job.name, self.task_id, job.verbosity)
        self._token = CancelToken()
        summary = run_replication(
            plan,
            sqlalchemy_url(job.source),
            sqlalchemy_url(job.destination),
            cancel=self._token,
            log=logger,
        )
        result = summary.to_dict()
        logger.info(
            "%s -> %s: %s rows read, %s inserted, %s updated, %s deleted in %.2f s",
            result.get("source"),
            result.get("destination"),
            result.get("rows_read"),
            result.get("rows_inserted"),
            result.get("rows_updated"),
            result.get("rows_deleted"),
            result.get("seconds", 0.0),
        )
        return result

    def _describe_asset_events(self, context: Context, job: Job, result: dict[str, Any]) -> None:
        """Counts (never row values) on the asset event Airflow emits when this task succeeds."""
        extra = {
            "job_name": job.name,
            "query_id": self.query_id,
            "mode": result.get("mode"),
            "rows_read": result.get("rows_read"),
            "records_affected": result.get("records_affected"),
        }
        try:
            for asset in self.outlets:
                context["outlet_events"][asset].extra.update(extra)
        except Exception:  # the event itself is emitted anyway; its details are a nicety
            self.log.warning("could not describe the asset event", exc_info=True)

    def _record_error(self, context: Context, message: str) -> None:
        try:
            context["ti"].xcom_push(key=ERROR_KEY, value=message[:4000])
        except Exception:  # reporting must never hide the real error
            self.log.warning("could not record the error for post_job", exc_info=True)

    def _fail(self, context: Context, exc: BaseException) -> NoReturn:
        plain = isinstance(exc, ReplicationError | AirflowFailException)
        message = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        # a cancel (on_kill) is not an error of this query: without an error XCom the API reports the query
        # CANCELLED in a cancelled run instead of FAILED
        if not isinstance(exc, ReplicationCancelled):
            self._record_error(context, message)
        if isinstance(exc, AirflowFailException):
            raise exc
        raise AirflowFailException(message) from exc

    def on_kill(self) -> None:
        """Cancel the in-flight statements (SIGKILL follows SIGTERM after 5 s; see design D9)."""
        if self._token is not None:
            self._token.cancel()


class JobEventOperator(_JobTask):
    """Run the job's PreJob (``phase="pre"``) or PostJob (``phase="post"``) code.

    ``pre``: returns ``{"cancel_job": bool, "env": {...}}`` for the query tasks.
    ``post`` (a teardown: runs after failures and cancellation too): builds the run outcome from every
    query's state and summary, runs the PostJob code with it, then sends the job's notifications.

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

    def execute(self, context: Context) -> dict[str, Any]:
        return self._pre(context) if self.phase == "pre" else self._post(context)

    def _event(self, job: Job):
        from airflow_sync.jobs.events import parse_event

        return parse_event(job.pre_job if self.phase == "pre" else job.post_job, field=self._field)

    @property
    def _field(self) -> str:
        return "PreJob" if self.phase == "pre" else "PostJob"

    def _pre(self, context: Context) -> dict[str, Any]:
        from airflow_sync.dags.event_runner import run_event

        job = self.load_job(context)
        late = overlapped_tick(context.get("dag_run"))
        if late:
            self.log.info("Skipping this run: %s", late)
            return {"cancel_job": True, "env": {}, "skipped_tick": late}
        summary = {
            "job_name": job.name,
            "job_id": job.job_id,
            "run_id": context["run_id"],
            "status": "RUNNING",
        }
        logger = job_logger(job.name, self.task_id, job.verbosity)
        result = run_event(self._event(job), job=job, summary=summary, trigger=_trigger, logger=logger)
        if result.cancel_job:
            logger.info("PreJob set CancelJob: the queries of this run will be skipped")
        if result.env:
            logger.info("PreJob set %d variable(s): %s", len(result.env), ", ".join(sorted(result.env)))
        return result.to_xcom()

    def _post(self, context: Context) -> dict[str, Any]:
        from airflow_sync import notifications
        from airflow_sync.dags.event_runner import run_event
        from airflow_sync.exceptions import JobNotFoundError
        from airflow_sync.jobs import store

        try:
            # no version check here: the outcome must be reported even when the job changed meanwhile
            job = store.get_job(self.job_name)
        except JobNotFoundError:
            self.log.warning("job %s no longer exists; nothing to report to", self.job_name)
            return {}
        pre = context["ti"].xcom_pull(task_ids=PRE_JOB) or {}
        if pre.get("skipped_tick"):
            # a tick that fell during another run is not a run (CData Sync skips it): no PostJob, no mail
            self.log.info("Schedule tick skipped (%s); nothing to report", pre["skipped_tick"])
            return {"status": "SKIPPED", "reason": pre["skipped_tick"]}
        summary = self._collect(context, job)
        logger = job_logger(job.name, self.task_id, job.verbosity)
        error: BaseException | None = None
        try:
            run_event(self._event(job), job=job, summary=summary.to_dict(), trigger=_trigger, logger=logger)
        except Exception as exc:  # notify first, then fail the task
            error = exc
            summary.post_job_error = f"{type(exc).__name__}: {exc}"
        logger.info(
            "Run %s: %s (%d of %d queries failed, %d records affected)",
            summary.run_id,
            summary.status,
            summary.failed_queries,
            len(summary.queries),
            summary.records_affected,
        )
        try:
            done = notifications.notify(job, summary)
            if done:
                logger.info("Notifications sent: %s", ", ".join(done))
        except Exception as exc:
            self.log.error("Sending the job's notifications failed: %s: %s", type(exc).__name__, exc)
            error = error or exc
        if error is not None:
            raise AirflowFailException(f"PostJob: {type(error).__name__}: {error}") from error
        return summary.to_dict()

    def _collect(self, context: Context, job: Job) -> Any:
        from airflow_sync.notifications import (
            CANCELLED_BY_CONF_KEY,
            QueryOutcome,
            RunSummary,
            query_status,
            run_status,
        )

        ti = context["ti"]
        conf = context["dag_run"].conf or {}
        run_id = context["run_id"]
        wanted = [PRE_JOB, *self.query_ids]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=wanted, run_ids=[run_id]).get(run_id, {})
        texts = dict(zip(job.query_task_ids(), job.queries, strict=False))
        outcomes = []
        for task_id in self.query_ids:
            status = query_status(states.get(task_id))
            result = ti.xcom_pull(task_ids=task_id) if status == "SUCCESS" else None
            error = ti.xcom_pull(task_ids=task_id, key=ERROR_KEY) if status == "FAILED" else None
            result = result if isinstance(result, dict) else {}
            outcomes.append(
                QueryOutcome(
                    task_id=task_id,
                    query=texts.get(task_id, ""),
                    status=status,
                    rows_read=int(result.get("rows_read") or 0),
                    records_affected=int(result.get("records_affected") or 0),
                    error=error if isinstance(error, str) else None,
                )
            )
        pre_state = states.get(PRE_JOB)
        return RunSummary(
            job_name=job.name,
            job_id=job.job_id,
            dag_id=ti.dag_id,
            run_id=run_id,
            status=run_status(pre_state, outcomes, cancelled=bool(conf.get(CANCELLED_BY_CONF_KEY))),
            pre_job=query_status(pre_state),
            queries=outcomes,
        )


def overlapped_tick(dag_run: Any, *, grace: timedelta = SCHEDULE_GRACE) -> str | None:
    """Why a scheduled run must not replicate, or None.

    CData Sync skips a schedule tick that falls while the job is still running. Airflow
    (``max_active_runs=1``, ``catchup=False``) instead creates the run for the latest missed tick once the
    running one ends. Such a run starts well after its tick; it then skips its queries (and its PostJob and
    notifications), so overlapping ticks never pile up behind a long run. Manual runs always run.

    :param dag_run: the run (Task SDK ``DagRun``)
    :param grace: how late a scheduled run may start and still count as on time (scheduler latency)
    """
    run_type = getattr(dag_run, "run_type", None)
    if getattr(run_type, "value", run_type) != "scheduled":
        return None
    tick = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
    started = getattr(dag_run, "start_date", None)
    if tick is None or started is None or started - tick <= grace:
        return None
    return (
        f"the schedule tick at {tick.isoformat()} fell while an earlier run of this job was still going "
        f"(this run could only start at {started.isoformat()})"
    )


def _trigger(dag_id: str, conf: dict[str, Any]) -> str:
    """Trigger a DAG run from inside a task through the Task SDK (PreJob/PostJob ``executeJob``)."""
    from datetime import datetime

    from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    run_id = f"manual__airflow_sync_event__{uuid.uuid4().hex[:12]}"
    response = SUPERVISOR_COMMS.send(
        TriggerDagRun(dag_id=dag_id, run_id=run_id, conf=conf, run_after=datetime.now(tz=UTC))
    )
    if isinstance(response, ErrorResponse):
        raise RuntimeError(f"triggering {dag_id} failed: {response.error}")
    return run_id

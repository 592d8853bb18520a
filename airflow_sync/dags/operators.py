"""The query tasks of a job DAG (:class:`ReplicateOperator`) and what every job task shares.

The PreJob / PostJob / notification tasks are in :mod:`airflow_sync.dags.event_tasks`. Nothing here connects
or reads the job at parse time: tasks read the job live from the store when they run (Task SDK), check it is
the version the run was triggered for (design D10), and resolve connections through Airflow hooks.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_sync.exceptions import JobVersionMismatchError, ReplicationCancelled, ReplicationError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sync.dags.cancel_watch import CommitRecorder, Store
    from airflow_sync.jobs.model import Job

PRE_JOB = "pre_job"
POST_JOB = "post_job"
#: the notification teardown (present when the job sends e-mail or syslog notifications)
NOTIFY = "notify"
#: a no-op leaf downstream of post_job: upstream_failed (so the run fails) when the PostJob failed
FINISH = "finish"
#: tasks of a job DAG that are not queries
EVENT_TASKS = (PRE_JOB, POST_JOB, NOTIFY, FINISH)
#: XCom key under which a failed task leaves its error text for post_job and the API
ERROR_KEY = "error"
#: a scheduled run starting later than this after its tick waited behind another run (see overlapped_tick)
SCHEDULE_GRACE = timedelta(seconds=60)
#: log level of Verbosity 5 (below DEBUG): everything of 4, plus per-statement timings
TRACE = 5


def log_level(verbosity: int) -> int:
    """Job ``Verbosity`` → Python log level: 1 ERROR, 2 and 3 INFO (3 adds batches and windows, which the
    engine logs at INFO when asked), 4 DEBUG (the statements executed), 5 :data:`TRACE`."""
    if verbosity <= 1:
        return logging.ERROR
    if verbosity <= 3:
        return logging.INFO
    return logging.DEBUG if verbosity == 4 else TRACE


def job_logger(job_name: str, task_id: str, verbosity: int) -> logging.Logger:
    """The logger a task hands to the engine, at the job's level (Airflow captures it in the task log)."""
    logger = logging.getLogger(f"airflow_sync.run.{job_name}.{task_id}")
    logger.setLevel(log_level(verbosity))
    return logger


def conf_of(context: Context) -> dict[str, Any]:
    """The run's ``conf`` (a copy; empty when none)."""
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) if dag_run is not None else None
    return dict(conf or {})


_conf = conf_of


def task_store(context: Context) -> Store | None:
    """The running task's state store (None outside a Task SDK supervisor, e.g. a bare unit test)."""
    from airflow_sync.dags.cancel_watch import TaskStore
    from airflow_sync.jobs.connections import under_supervisor

    ti = context.get("ti")
    if ti is None or not under_supervisor() or getattr(ti, "id", None) is None:
        return None
    return TaskStore(ti)


def push_error(context: Context, message: str, log: Any) -> None:
    """Leave a failed task's error text (and its try) for post_job and the API (never hides the error)."""
    ti = context["ti"]
    try:
        ti.xcom_push(key=ERROR_KEY, value={"message": message[:4000], "try": getattr(ti, "try_number", 1)})
    except Exception:
        log.warning("could not record the error for post_job", exc_info=True)


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
    task at once. Every COMMIT is recorded in the task state store, and none is sent after cancelJob asked
    the run to stop (:mod:`airflow_sync.dags.cancel_watch`).

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
        from airflow_sync.dags.cancel_watch import CommitRecorder, cancel_requested, worker_host

        # no key or [] (the Trigger form's default) = every query
        selected = _conf(context).get("queries")
        if selected and self.task_id not in selected:
            raise AirflowSkipException("not selected for this run (conf 'queries')")
        pre = context["ti"].xcom_pull(task_ids=PRE_JOB) or {}
        if pre.get("cancel_job"):
            raise AirflowSkipException("the PreJob event cancelled this run (CancelJob)")
        store = task_store(context)
        if store is not None and (who := cancel_requested(store)) is not None:
            raise AirflowSkipException(f"the run was cancelled by {who} before this query started")
        job = self.load_job(context)
        logger = job_logger(job.name, self.task_id, job.verbosity)
        try_number = int(getattr(context["ti"], "try_number", 1) or 1)
        recorder = CommitRecorder(store, try_number, logger) if store is not None else None
        try:
            result = self._replicate(job, dict(pre.get("env") or {}), recorder, store, logger)
        except ReplicationCancelled as exc:
            if recorder is not None:
                recorder.aborted()
            who = recorder.cancelled_by if recorder is not None else None
            self._fail(context, ReplicationCancelled(f"{exc} (cancel requested by {who})") if who else exc)
        except ReplicationError as exc:
            if exc.transient:
                push_error(context, str(exc), self.log)
                raise  # a retry may succeed (connection reset, deadlock, lock timeout)
            self._fail(context, exc)
        except AirflowSkipException:
            raise
        except Exception as exc:
            self._fail(context, exc)
        result.update(try_number=try_number, host=worker_host())
        if recorder is not None:
            recorder.done(result)
        self._describe_asset_events(context, job, result)
        return result

    def _replicate(
        self,
        job: Job,
        env: dict[str, str],
        recorder: CommitRecorder | None,
        store: Store | None,
        logger: logging.Logger,
    ) -> dict[str, Any]:
        from airflow_sync import settings
        from airflow_sync.dags.cancel_watch import CancelWatcher
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
        self._token = token = CancelToken()
        if recorder is not None:
            recorder.attach(token)
        source, destination = sqlalchemy_url(job.source), sqlalchemy_url(job.destination)
        if store is None:
            summary = run_replication(plan, source, destination, cancel=token, log=logger)
        else:
            interval = float(settings.get_str("cancel_poll_seconds"))
            with CancelWatcher(store, token, interval, logger):
                summary = run_replication(plan, source, destination, cancel=token, log=logger)
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

    def _fail(self, context: Context, exc: BaseException) -> NoReturn:
        plain = isinstance(exc, ReplicationError | AirflowFailException)
        message = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        # a cancel is not an error of this query: without an error XCom the API reports the query
        # CANCELLED in a cancelled run instead of FAILED
        if not isinstance(exc, ReplicationCancelled):
            push_error(context, message, self.log)
        if isinstance(exc, AirflowFailException):
            raise exc
        raise AirflowFailException(message) from exc

    def on_kill(self) -> None:
        """Cancel the in-flight statements (SIGKILL follows SIGTERM after 5 s; see design D9)."""
        if self._token is not None:
            self._token.cancel()


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

"""Starting and cancelling job runs: the mapping of executeJob / executeQuery / cancelJob onto Airflow.

A run is an ordinary Airflow DagRun of the job's DAG, triggered with Airflow's own ``trigger_dag`` (run
type ``manual``, triggered by ``rest_api``, the caller as triggering user) so the Airflow UI shows it like
any other run. Cancel is Airflow's own "mark run as failed" service plus a DagRun note; the note is how
every reader (status, history, this API after a restart) tells a cancelled run from a failed one: a run in
state ``failed`` whose note starts with :data:`CANCEL_NOTE_PREFIX` is *cancelled*.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_sync.api.services.common import dag_id_for, lock_dag
from airflow_sync.exceptions import JobNotRunningError, JobRunningError

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

#: a DagRun note starting with this marks a run cancelled through the API (the UI shows the note)
CANCEL_NOTE_PREFIX = "Cancelled via API"

ACTIVE_STATES = ("queued", "running")

DagReadiness = Literal["ready", "missing", "stale", "outdated", "import_error", "paused"]


@dataclass(frozen=True)
class DagCheck:
    """Whether a job's DAG can take a run now, and why not."""

    state: DagReadiness
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def may_appear(self) -> bool:
        """True while waiting can help: the dag-processor has not (re)parsed the job yet."""
        return self.state in ("missing", "stale", "outdated")


def is_cancelled(run: DagRun) -> bool:
    """True for a run cancelled through cancelJob (its note carries the marker)."""
    note = run.note or ""
    return note.startswith(CANCEL_NOTE_PREFIX)


def active_run(dag_id: str, *, session: Session) -> DagRun | None:
    """The newest queued or running, not yet cancelled, run of a DAG."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    runs = session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.state.in_(ACTIVE_STATES))
        .order_by(DagRun.id.desc())
    ).all()
    for run in runs:
        if not is_cancelled(run):  # a cancelled run may still be finishing its post-job teardown
            return run
    return None


def latest_run(dag_id: str, *, session: Session) -> DagRun | None:
    """The newest run of a DAG (any state, any trigger: API, scheduler or Airflow UI)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    return session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
    ).first()


def check_dag(job: Job, *, session: Session) -> DagCheck:
    """Can the job's DAG take a run? Distinguishes "not parsed yet" (wait) from errors (refuse)."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    dag_id = dag_id_for(job.name)
    dm = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
    if dm is None:
        return DagCheck("missing", f"The DAG {dag_id} of job '{job.name}' has not been parsed yet")
    if dm.has_import_errors:
        return DagCheck(
            "import_error",
            f"The DAG {dag_id} of job '{job.name}' has import errors; see Import Errors in the Airflow UI",
        )
    if dm.is_stale:
        return DagCheck("stale", f"The DAG {dag_id} of job '{job.name}' is not active in Airflow (stale)")
    if dm.is_paused:
        return DagCheck(
            "paused",
            f"The DAG {dag_id} of job '{job.name}' is paused in Airflow; unpause it to run the job",
        )
    if not _serialized_has_tasks(dag_id, job.query_task_ids(), session=session):
        return DagCheck(
            "outdated", f"The DAG {dag_id} has not been re-parsed since job '{job.name}' was changed"
        )
    return DagCheck("ready")


def _serialized_has_tasks(dag_id: str, task_ids: tuple[str, ...], *, session: Session) -> bool:
    from airflow.models.dagbag import DBDagBag

    dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
    if dag is None:
        return False
    return set(task_ids) <= set(dag.task_ids)


def start_run(
    job: Job,
    *,
    user: str,
    queries: list[str] | None,
    session: Session,
) -> DagRun:
    """Trigger one run of the job unless one is queued or running — atomically.

    The check and the trigger happen in one transaction that first row-locks the job's DAG, so two
    concurrent callers start exactly one run; the loser gets :class:`JobRunningError`.

    :param user: the caller (shown as the triggering user in Airflow)
    :param queries: task ids of the selected queries (executeQuery), None for the whole job
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    from airflow_sync.jobs import store

    dag_id = dag_id_for(job.name)
    lock_dag(dag_id, session=session)
    if store.job_is_running(dag_id, session=session) and active_run(dag_id, session=session) is not None:
        raise JobRunningError(f"Job '{job.name}' is already running; wait for it or cancel it first")
    conf: dict[str, Any] = {"job_version": job.version, "job_id": job.job_id}
    if queries is not None:
        conf["queries"] = list(queries)
    run = trigger_dag(
        dag_id,
        triggered_by=DagRunTriggeredByType.REST_API,
        triggering_user_name=user,
        conf=conf,
        session=session,
    )
    if run is None:  # trigger_dag returns None only when nothing was created
        raise RuntimeError(f"Airflow created no run for {dag_id}")
    session.flush()
    log.info("Triggered run %s of job %s (%s queries)", run.run_id, job.name, len(queries or ()) or "all")
    return run


def cancel_run(job: Job, *, user: str, session: Session) -> DagRun:
    """Cancel the job's queued or running run the way the Airflow UI's "Mark run as failed" does.

    Running query tasks become failed (their processes are stopped by the next heartbeat), pending ones
    skipped; the post-job teardown still runs. The run gets the note ``Cancelled via API by <user>``.

    :raises JobNotRunningError: when nothing is queued or running
    """
    from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
    from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_state
    from airflow.models.dagbag import DBDagBag

    from airflow_sync.notifications import CANCELLED_BY_CONF_KEY

    dag_id = dag_id_for(job.name)
    lock_dag(dag_id, session=session)
    run = active_run(dag_id, session=session)
    if run is None:
        raise JobNotRunningError(f"Job '{job.name}' is not running; nothing to cancel")
    # the note first: readers that see the failed state must also see that it was a cancel
    note = f"{CANCEL_NOTE_PREFIX} by {user}"
    if run.dag_run_note is None:
        run.note = (note, None)
    else:  # keep what an operator wrote, after the marker
        old = run.dag_run_note.content or ""
        run.dag_run_note.content = f"{note}\n{old}"[:1000] if old else note
    # the note does not reach task processes; the conf does: post_job reports the run as CANCELLED
    run.conf = {**(run.conf or {}), CANCELLED_BY_CONF_KEY: user}
    session.flush()
    dag = DBDagBag().get_dag_for_run(run, session=session)
    if dag is None:
        raise RuntimeError(f"No serialized DAG for run {run.run_id} of {dag_id}")
    patch_dag_run_state(dag=dag, dag_run=run, state=DagRunMutableStates.FAILED, session=session)
    session.flush()
    log.info("Cancelled run %s of job %s", run.run_id, job.name)
    return run

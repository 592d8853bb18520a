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
from datetime import UTC, datetime
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


@dataclass(frozen=True)
class CancelRequest:
    """A cancel in progress: the run, and whether it already ended (nothing left to wait for)."""

    dag_id: str
    run_id: str
    ended: bool = False


def cancel_request(job: Job, *, user: str, session: Session) -> CancelRequest:
    """First step of cancelJob: ask the job's queued or running run to stop (spec §4 cancelJob).

    The run gets the note ``Cancelled via API by <user>`` and the conf key ``cancelled_by`` (task processes
    see the conf, not the note), and every task of the run gets the cancel key in its task state store:
    a running query stops within ``[airflow_sync] cancel_poll_seconds`` and never COMMITs after this
    transaction (see :mod:`airflow_sync.markers`). A run that never started ends at once. A run that was
    already cancelled but is still finishing (its teardown, or a paused DAG that will never run it) is ended
    now: whenever DELETE or PUT answer JobRunning, cancelJob can end that run.

    :raises JobNotRunningError: when nothing is queued or running
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    from airflow_sync.notifications import CANCELLED_BY_CONF_KEY

    dag_id = dag_id_for(job.name)
    lock_dag(dag_id, session=session)
    run = session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.state.in_(ACTIVE_STATES))
        .order_by(DagRun.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if run is None:
        raise JobNotRunningError(f"Job '{job.name}' is not running; nothing to cancel")
    if is_cancelled(run):
        _end_now(run, session=session)
        _append_note(run, f"Ended by a second cancel from {user} without waiting for its teardown")
        log.info("Ended cancelled run %s of job %s at once (cancel requested again)", run.run_id, job.name)
        return CancelRequest(dag_id, run.run_id, ended=True)
    # the note first: readers that see the failed state must also see that it was a cancel
    _prepend_note(run, f"{CANCEL_NOTE_PREFIX} by {user}")
    # the note does not reach task processes; the conf does
    run.conf = {**(run.conf or {}), CANCELLED_BY_CONF_KEY: user}
    _write_cancel_keys(run, user, session=session)
    if str(run.state) == "queued":  # nothing ran: no teardown to wait for
        _end_now(run, session=session)
        log.info("Cancelled queued run %s of job %s", run.run_id, job.name)
        return CancelRequest(dag_id, run.run_id, ended=True)
    session.flush()
    return CancelRequest(dag_id, run.run_id)


def _prepend_note(run: DagRun, note: str) -> None:
    if run.dag_run_note is None:
        run.note = (note, None)
    else:  # keep what an operator wrote, after the marker
        old = run.dag_run_note.content or ""
        run.dag_run_note.content = f"{note}\n{old}"[:1000] if old else note


def _append_note(run: DagRun, line: str) -> None:
    if run.dag_run_note is not None:
        run.dag_run_note.content = f"{run.dag_run_note.content or ''}\n{line}"[:1000]


def _write_cancel_keys(run: DagRun, user: str, *, session: Session) -> None:
    """The cancel key in the task state store of every task of the run (what running tasks poll)."""
    import json

    from airflow.models.taskinstance import TaskInstance
    from airflow.state import TaskScope, get_state_backend
    from sqlalchemy import select

    from airflow_sync.markers import CANCEL_KEY

    value = json.dumps({"by": user, "at": datetime.now(UTC).isoformat()})
    backend = get_state_backend()
    task_ids = session.scalars(
        select(TaskInstance.task_id).where(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
        )
    ).all()
    for task_id in task_ids:
        scope = TaskScope(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id)
        backend.set(scope, CANCEL_KEY, value, expires_at=None, session=session)


def _end_now(run: DagRun, *, session: Session) -> None:
    """End a run at once: running tasks failed (their processes stop at the next heartbeat), the others
    skipped, teardowns included, and the run failed."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from sqlalchemy import select

    running = {"running", "deferred", "up_for_reschedule", "awaiting_input", "restarting"}
    for ti in session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
    ):
        if ti.state is not None and str(ti.state) in running:
            ti.set_state(TaskInstanceState.FAILED, session=session)
        elif ti.state is None or ti.state not in State.finished:
            ti.set_state(TaskInstanceState.SKIPPED, session=session)
    run.set_state(DagRunState.FAILED)
    session.flush()


def commits_under_way(dag_id: str, run_id: str, *, session: Session) -> list[str]:
    """Query tasks of the run that are still running and are sending a COMMIT or finishing a load that
    committed: cancelJob waits for them before it stops the run, so its answer says what they did."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    from airflow_sync import markers
    from airflow_sync.api.services.results import load_run_info

    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        return []
    info = load_run_info([run], session=session)[run.id]
    waiting = []
    for task_id, ti in info.tis.items():
        if not isinstance(ti, TaskInstance) or str(ti.state) != "running":
            continue
        entry = markers.tries(info.commits.get(task_id)).get(max(1, ti.try_number or 1), {})
        if entry.get("state") in (markers.COMMITTING, markers.DONE):
            waiting.append(task_id)
    return waiting


def cancel_stop(job: Job, request: CancelRequest, *, session: Session) -> DagRun:
    """Second step of cancelJob: stop what is still running, the way the Airflow UI's "Mark run as failed"
    does (running tasks failed, pending ones skipped, the post_job teardown still runs).

    A run whose queries did not all finish ends failed in Airflow (its ``finish`` leaf is marked failed);
    a run whose every load committed before the cancel took effect keeps its successful tasks.
    """
    from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
    from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_state
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from airflow_sync import status as st
    from airflow_sync.api.services.results import FINISH, load_run_info

    lock_dag(request.dag_id, session=session)
    run = session.scalar(
        select(DagRun).where(DagRun.dag_id == request.dag_id, DagRun.run_id == request.run_id)
    )
    if run is None:
        raise JobNotRunningError(f"The run {request.run_id} of job '{job.name}' no longer exists")
    if not request.ended and str(run.state) in ACTIVE_STATES:
        dag = DBDagBag().get_dag_for_run(run, session=session)
        if dag is None:  # its DAG version is gone: nothing can schedule its teardown, end it here
            _end_now(run, session=session)
            log.info("Cancelled run %s of job %s (no DAG left: ended at once)", run.run_id, job.name)
            return run
        patch_dag_run_state(dag=dag, dag_run=run, state=DagRunMutableStates.FAILED, session=session)
        session.flush()
        outcome = load_run_info([run], session=session)[run.id].outcome(job)[0]
        if outcome.status == st.CANCELLED:
            finish = session.scalar(
                select(TaskInstance).where(
                    TaskInstance.dag_id == run.dag_id,
                    TaskInstance.run_id == run.run_id,
                    TaskInstance.task_id == FINISH,
                )
            )
            if finish is not None and str(finish.state) in ("skipped", "none", "scheduled", "queued"):
                # the leaf that decides Airflow's run state: a cancelled run ends failed, as cancelJob said
                finish.set_state(TaskInstanceState.UPSTREAM_FAILED, session=session)
        session.flush()
    log.info("Cancelled run %s of job %s", run.run_id, job.name)
    return run

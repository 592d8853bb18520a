"""When a job's DAG runs: CData Sync's schedule semantics on Airflow's ``CronTriggerTimetable``.

CData Sync starts no run when a schedule is created, switched on or changed: the next run is the next cron
tick after the change. Airflow with ``catchup=False`` instead creates a run at once for the latest tick it
missed since the DAG's ``start_date``. So every job DAG starts just after the moment its schedule last changed
(``Job.schedule_since``, stamped by the store in the same transaction as the change, kept by unrelated
edits): the previous tick then falls before ``start_date`` and Airflow's first run is the next tick.

How Airflow picks a DAG's next run (``CronTriggerTimetable.next_dagrun_info`` with ``catchup=False``): the
latest of the tick at or before *now*, the tick after the last scheduled run, and the first tick at or after
``start_date``. Ticks are whole seconds, so a ``start_date`` of the first whole second after the change makes
that third candidate the first tick strictly after the change; the other two are never later than it until
that tick has come. A DAG parsed late (after the tick) still runs that tick at once; a later parse never moves
it.

The timetable is always ``CronTriggerTimetable`` (a run at its tick, logical date = tick, no data interval),
named explicitly so ``[scheduler] create_cron_data_intervals`` cannot turn it into a
``CronDataIntervalTimetable``, which would run at the end of each interval instead. Cron ticks are in UTC.

Everything is derived from the stored job, never from the clock: parsing stays deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

#: the zone cron ticks are in (the DAGs have always fired in UTC)
TIMEZONE = "UTC"
#: start of the DAGs of jobs stored before ``schedule_since`` existed (and of unscheduled jobs)
LEGACY_START = datetime(2024, 1, 1, tzinfo=UTC)


def now_stamp() -> str:
    """The current time as a ``schedule_since`` value (ISO-8601 UTC with microseconds)."""
    return datetime.now(UTC).isoformat()


def stamp_after(previous: Job | None, job: Job, *, now: str | None = None) -> Job:
    """``job`` with its ``schedule_since``: a new stamp when its schedule is new, switched on or changed
    (a different Airflow cron), else the stamp ``previous`` had — so an unrelated edit (a query, an option)
    neither skips nor adds ticks.

    :param previous: the stored job ``job`` replaces (None: a new job)
    :param job: the job being written
    :param now: the stamp to use (default: :func:`now_stamp`)
    """
    carried = previous.schedule_since if previous is not None else ""
    new = job.schedule
    if new is not None and (previous is None or _schedule_of(previous) != new):
        return job.since(now or now_stamp())
    return job.since(carried)


def _schedule_of(job: Job) -> str | None:
    try:
        return job.schedule
    except Exception:  # a hand-edited stored cron that no longer translates: any valid one is a change
        return "\x00invalid"


def start_date(job: Job) -> datetime:
    """The DAG's ``start_date``: the first whole second after the last schedule change.

    :param job: the stored job
    """
    if not job.schedule_since:
        return LEGACY_START
    try:
        since = datetime.fromisoformat(job.schedule_since)
    except ValueError:
        return LEGACY_START
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return since.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)


def dag_timetable(job: Job) -> Any:
    """The ``schedule`` of the job's DAG: a Task SDK ``CronTriggerTimetable``, or None (manual runs only)."""
    cron = job.schedule
    if cron is None:
        return None
    from airflow.sdk import CronTriggerTimetable

    return CronTriggerTimetable(cron, timezone=TIMEZONE)


def core_timetable(airflow_cron: str) -> Any:
    """The scheduler's ``CronTriggerTimetable`` for an Airflow cron (what the DAG's one deserializes to)."""
    from airflow.timetables.trigger import CronTriggerTimetable

    return CronTriggerTimetable(airflow_cron, timezone=TIMEZONE)


def expected_next_run(job: Job) -> datetime | None:
    """The run-after time Airflow computes for the job's DAG when it parses the stored job now.

    Computed by Airflow's own timetable code with the DAG's restriction. Exact while no scheduled run was
    created since the last schedule change (the state right after a change: changes are refused while a
    run is queued or running). The API shows this until the DAG of the current schedule is parsed;
    afterwards it shows Airflow's own ``next_dagrun_create_after``.

    :param job: the stored job
    """
    cron = job.schedule
    if cron is None:
        return None
    import pendulum
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=pendulum.instance(start_date(job)), latest=None, catchup=False)
    info = core_timetable(cron).next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    return info.run_after if info is not None else None

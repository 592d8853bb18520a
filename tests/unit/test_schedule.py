"""CData's schedule semantics on Airflow: a new, enabled or changed schedule starts no run, its first run is
the next tick, and the time the API shows is the one Airflow computes — checked with Airflow's own code
(the serialized DAG's ``next_dagrun_info``, as the dag-processor and the scheduler call it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytest.importorskip("airflow_sync.dags.schedule", reason="scheduling has not landed yet")

BASE = {"JobName": "nightly", "Source": "src", "Destination": "dst", "Query#1": "REPLICATE [Orders]"}


def job(**fields):
    from airflow_sync.jobs.model import Job

    return Job.from_wire({**BASE, **fields})


def airflow_next_run(j) -> datetime:
    """What Airflow sets as ``next_dagrun_create_after`` when it parses this job's DAG now (no runs yet)."""
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_sync.dags.factory import build_dag

    dag = DagSerialization.from_dict(DagSerialization.to_dict(build_dag(j)))
    info = dag.next_dagrun_info(last_automated_run_info=None)
    assert info is not None
    return info.run_after


def first_tick_after(cron: str, moment: datetime) -> datetime:
    from croniter import croniter

    return croniter(cron, moment.astimezone(UTC)).get_next(datetime)


@pytest.mark.parametrize("cron", ["0 2 * * *", "*/5 * * * *", "* * * * *", "30 3 * * 2"])
def test_a_new_schedule_runs_first_at_its_next_tick_not_at_a_missed_one(cron):
    from airflow_sync.dags.schedule import now_stamp, stamp_after

    before = datetime.now(UTC)
    stamped = stamp_after(None, job(Scheduled="True", ScheduledCron=cron))
    since = datetime.fromisoformat(stamped.schedule_since)
    assert before <= since <= datetime.now(UTC)
    run_after = airflow_next_run(stamped)
    assert run_after > since  # Airflow creates no run for a tick before the change...
    assert run_after == first_tick_after(stamped.schedule, since)  # ...and the first is the next tick
    # the defect this replaces: a DAG starting in the past runs the latest missed tick at once
    legacy = airflow_next_run(stamped.since(""))
    assert legacy <= datetime.now(UTC) and legacy < run_after
    assert now_stamp() >= stamped.schedule_since


def test_the_api_shows_the_time_airflow_computes():
    from airflow_sync.dags.schedule import expected_next_run, stamp_after

    for cron in ("0 2 * * *", "15 */2 * * *", "0 0 L * ?"):
        stamped = stamp_after(None, job(Scheduled="True", ScheduledCron=cron))
        assert expected_next_run(stamped) == airflow_next_run(stamped)
    assert expected_next_run(job()) is None


def test_the_first_tick_is_strictly_after_the_change_even_on_a_tick():
    from airflow_sync.dags.schedule import LEGACY_START, start_date

    on_tick = job(Scheduled="True", ScheduledCron="0 2 * * *").since("2026-03-01T02:00:00+00:00")
    assert start_date(on_tick) == datetime(2026, 3, 1, 2, 0, 1, tzinfo=UTC)
    just_before = on_tick.since("2026-03-01T01:59:59.999999+00:00")
    assert start_date(just_before) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # the 02:00 tick comes after
    naive = on_tick.since("2026-03-01T01:00:00")
    assert start_date(naive) == datetime(2026, 3, 1, 1, 0, 1, tzinfo=UTC)
    assert start_date(on_tick.since("")) == start_date(on_tick.since("garbage")) == LEGACY_START


def test_only_a_schedule_change_moves_the_start():
    from airflow_sync.dags.schedule import stamp_after

    t0, t1 = "2026-03-01T10:00:00+00:00", "2026-03-02T11:00:00+00:00"
    scheduled = stamp_after(None, job(Scheduled="True", ScheduledCron="0 2 * * *"), now=t0)
    assert scheduled.schedule_since == t0
    assert stamp_after(None, job(), now=t0).schedule_since == ""  # unscheduled: nothing to start

    def edit(j, **fields):
        return stamp_after(j, j.patched(fields), now=t1)

    # unrelated edits, and a cron spelled differently with the same ticks, keep the start
    for fields in (
        {"Query#1": "REPLICATE [Customers]", "Query#2": "REPLICATE [Orders]"},
        {"Verbosity": "4", "TableNamePrefix": "stg_"},
        {"ScheduledCron": "0 2 * * ?"},
    ):
        kept = edit(scheduled, **fields)
        assert kept.schedule_since == t0, fields
    # a new cron, or switching the schedule back on, restarts at the next tick
    assert edit(scheduled, ScheduledCron="0 3 * * *").schedule_since == t1
    off = edit(scheduled, Scheduled="False")
    assert off.schedule_since == t0 and off.schedule is None
    assert edit(off, Scheduled="True").schedule_since == t1
    # bookkeeping, not content: the version (ETag) and equality ignore it
    assert scheduled.version == scheduled.since(t1).version and scheduled == scheduled.since(t1)


def test_an_unrelated_edit_keeps_the_dag_schedule_identical():
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_sync.dags.factory import build_dag
    from airflow_sync.dags.schedule import stamp_after

    scheduled = stamp_after(None, job(Scheduled="True", ScheduledCron="*/10 * * * *"))
    edited = stamp_after(scheduled, scheduled.patched({"Query#1": "REPLICATE [Customers]"}))

    def schedule_of(j):
        data = DagSerialization.to_dict(build_dag(j))["dag"]
        return data["timetable"], data["start_date"]

    assert schedule_of(edited) == schedule_of(scheduled)
    assert airflow_next_run(edited) == airflow_next_run(scheduled)


def test_the_record_keeps_the_stamp_and_parsing_is_deterministic():
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_sync.dags.factory import build_dag
    from airflow_sync.dags.schedule import stamp_after
    from airflow_sync.jobs.model import Job

    stamped = stamp_after(None, job(Scheduled="True", ScheduledCron="0 2 * * *"))
    again = Job.from_store(stamped.to_store())
    assert again.schedule_since == stamped.schedule_since
    assert DagSerialization.to_dict(build_dag(again)) == DagSerialization.to_dict(build_dag(stamped))
    assert "ScheduleSince" not in stamped.to_wire() and "schedule_since" not in {
        k.lower() for k in stamped.to_wire()
    }
    with pytest.raises(Exception, match="schedule_since"):
        Job.from_store(stamped.to_store() | {"schedule_since": 5})


def test_the_timetable_does_not_depend_on_create_cron_data_intervals(monkeypatch):
    from airflow.sdk import DAG
    from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

    from airflow_sync.dags.factory import build_dag

    monkeypatch.setenv("AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS", "True")
    plain = DAG("plain", schedule="0 2 * * *", start_date=datetime(2024, 1, 1, tzinfo=UTC))
    assert isinstance(plain.timetable, CronDataIntervalTimetable)  # what a cron string would become here
    dag = build_dag(job(Scheduled="True", ScheduledCron="0 2 * * *"))
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.interval == timedelta(0)


def test_preview_uses_the_dag_timetable():
    from airflow_sync.api.routes.ui import preview_schedule
    from airflow_sync.dags.schedule import stamp_after

    stamped = stamp_after(None, job(Scheduled="True", ScheduledCron="45 * * * *"))
    since = datetime.fromisoformat(stamped.schedule_since)
    out = preview_schedule("45 * * * *", 2, now=since)
    assert out["Timezone"] == "UTC"
    assert datetime.fromisoformat(out["value"][0]) == airflow_next_run(stamped)

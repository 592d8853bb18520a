"""CData (Quartz-style, 1 = Sunday) cron -> Airflow cron: translation checked against croniter fire times."""

from __future__ import annotations

from datetime import datetime

import pytest
from croniter import croniter

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.cron import to_airflow_cron

# 2026-01-01 is a Thursday; see `cal 2026`.
START = datetime(2026, 1, 1, 0, 30)


def d(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute)


# CData expression, Airflow expression, next four fire times after START (worked out from the calendar)
TRANSLATIONS = [
    ("0 2 * * *", "0 2 * * *", [d(1, 1, 2), d(1, 2, 2), d(1, 3, 2), d(1, 4, 2)]),
    ("*/15 * * * *", "*/15 * * * *", [d(1, 1, 0, 45), d(1, 1, 1), d(1, 1, 1, 15), d(1, 1, 1, 30)]),
    ("5/15 * * * *", "5-59/15 * * * *", [d(1, 1, 0, 35), d(1, 1, 0, 50), d(1, 1, 1, 5), d(1, 1, 1, 20)]),
    ("0 */6 * * *", "0 */6 * * *", [d(1, 1, 6), d(1, 1, 12), d(1, 1, 18), d(1, 2)]),
    ("0 9-17/4 * * *", "0 9-17/4 * * *", [d(1, 1, 9), d(1, 1, 13), d(1, 1, 17), d(1, 2, 9)]),
    ("  30   6 * *  2-6 ", "30 6 * * 1-5", [d(1, 1, 6, 30), d(1, 2, 6, 30), d(1, 5, 6, 30), d(1, 6, 6, 30)]),
    # day-of-week numbers: 1 = Sunday ... 7 = Saturday
    ("0 0 ? * 2", "0 0 * * 1", [d(1, 5), d(1, 12), d(1, 19), d(1, 26)]),  # Monday
    ("0 0 * * 1", "0 0 * * 0", [d(1, 4), d(1, 11), d(1, 18), d(1, 25)]),  # Sunday
    ("0 0 * * 7", "0 0 * * 6", [d(1, 3), d(1, 10), d(1, 17), d(1, 24)]),  # Saturday
    ("0 0 * * 1-7", "0 0 * * 0-6", [d(1, 2), d(1, 3), d(1, 4), d(1, 5)]),
    ("0 0 * * 2-6", "0 0 * * 1-5", [d(1, 2), d(1, 5), d(1, 6), d(1, 7)]),  # Mon-Fri
    ("0 0 * * 6-2", "0 0 * * 5-1", [d(1, 2), d(1, 3), d(1, 4), d(1, 5)]),  # Fri-Mon, wrapping
    ("0 0 * * 7-1", "0 0 * * 6-0", [d(1, 3), d(1, 4), d(1, 10), d(1, 11)]),  # Sat-Sun
    ("0 0 * * 1,7", "0 0 * * 0,6", [d(1, 3), d(1, 4), d(1, 10), d(1, 11)]),
    ("0 0 * * 1/2", "0 0 * * 0,2,4,6", [d(1, 3), d(1, 4), d(1, 6), d(1, 8)]),  # Sun Tue Thu Sat
    ("0 0 * * 2-6/2", "0 0 * * 1,3,5", [d(1, 2), d(1, 5), d(1, 7), d(1, 9)]),  # Mon Wed Fri
    ("0 0 * * */3", "0 0 * * 0,3,6", [d(1, 3), d(1, 4), d(1, 7), d(1, 10)]),  # Sun Wed Sat
    ("0 0 * * MON-FRI", "0 0 * * MON-FRI", [d(1, 2), d(1, 5), d(1, 6), d(1, 7)]),
    ("0 0 * * mon,wed", "0 0 * * MON,WED", [d(1, 5), d(1, 7), d(1, 12), d(1, 14)]),
    ("0 0 * * MON-5", "0 0 * * 1-4", [d(1, 5), d(1, 6), d(1, 7), d(1, 8)]),  # Mon-Thu
    # L / # forms
    ("0 0 L * ?", "0 0 L * *", [d(1, 31), d(2, 28), d(3, 31), d(4, 30)]),
    ("0 0 28-L * ?", "0 0 28-L * *", [d(1, 28), d(1, 29), d(1, 30), d(1, 31)]),
    ("0 0 1,15,L * ?", "0 0 1,15,L * *", [d(1, 15), d(1, 31), d(2, 1), d(2, 15)]),
    ("0 0 ? * 5L", "0 0 * * L4", [d(1, 29), d(2, 26), d(3, 26), d(4, 30)]),  # last Thursday
    ("0 0 ? * FRIL", "0 0 * * L5", [d(1, 30), d(2, 27), d(3, 27), d(4, 24)]),  # last Friday
    ("0 0 ? * 6#3", "0 0 * * 5#3", [d(1, 16), d(2, 20), d(3, 20), d(4, 17)]),  # third Friday
    ("0 0 ? * fri#3", "0 0 * * 5#3", [d(1, 16), d(2, 20), d(3, 20), d(4, 17)]),
    ("0 12 * * 2#1,4#1", "0 12 * * 1#1,3#1", [d(1, 5, 12), d(1, 7, 12), d(2, 2, 12), d(2, 4, 12)]),
    ("0 0 ? * L", "0 0 * * 6", [d(1, 3), d(1, 10), d(1, 17), d(1, 24)]),  # Quartz: L alone = Saturday
    # steps without an end, months
    ("0 0 1/5 * ?", "0 0 1-31/5 * *", [d(1, 6), d(1, 11), d(1, 16), d(1, 21)]),
    ("0 0 1 2/3 *", "0 0 1 2-12/3 *", [d(2, 1), d(5, 1), d(8, 1), d(11, 1)]),
    ("0 0 1 JAN-MAR *", "0 0 1 JAN-MAR *", [d(2, 1), d(3, 1), d(1, 1, year=2027), d(2, 1, year=2027)]),
    ("@daily", "0 0 * * *", [d(1, 2), d(1, 3), d(1, 4), d(1, 5)]),
    ("@monthly", "0 0 1 * *", [d(2, 1), d(3, 1), d(4, 1), d(5, 1)]),
]


@pytest.mark.parametrize(
    ("cdata", "airflow", "fires"), TRANSLATIONS, ids=[t[0].strip() for t in TRANSLATIONS]
)
def test_translation_and_fire_times(cdata, airflow, fires):
    assert to_airflow_cron(cdata) == airflow
    it = croniter(airflow, START)
    assert [it.get_next(datetime) for _ in fires] == fires


def test_translation_is_accepted_by_airflow_timetable():
    from airflow.timetables.trigger import CronTriggerTimetable

    for _, airflow, _ in TRANSLATIONS:
        CronTriggerTimetable(airflow, timezone="UTC").validate()


REJECTIONS = [
    ("", "required"),
    ("0 0 * *", "has 4 fields"),
    ("0 0 0 * * ?", "seconds"),
    ("0 0 0 * * ? 2030", "seconds and year"),
    ("60 * * * *", "minute value 60 is out of range 0-59"),
    ("0 24 * * *", "hour value 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month value 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month value 32"),
    ("0 0 * 13 *", "month value 13 is out of range 1-12"),
    ("0 0 * * 0", "day-of-week value 0 is out of range 1-7"),
    ("0 0 * * 8", "day-of-week value 8"),
    ("0 0 15W * ?", "'W' (nearest weekday)"),
    ("0 0 LW * ?", "'W' (nearest weekday)"),
    ("0 0 ? * 2W", "'W' (nearest weekday) belongs to day-of-month"),
    ("0 0 L-2 * ?", "days before the last day"),
    ("0 0 ? * 1,5L", "mixes '#'/'L' with plain days"),
    ("0 0 ? * 2#6", "occurrence 1-5"),
    ("? 0 * * *", "only allowed in day-of-month and day-of-week"),
    ("0 0 * ? *", "only allowed in day-of-month and day-of-week"),
    ("*/0 * * * *", "step '0'"),
    ("0 0 * * FOO", "'FOO' is not a valid day-of-week value"),
    ("0 0 * FOO *", "'FOO' is not a valid month value"),
    ("a b c d e", "'a' is not a valid minute value"),
    ("1,,2 * * * *", "'' is not a valid minute value"),
    ("@reboot", "unknown preset"),
    ("0 0 5L * *", "'L' alone means the last day"),
    ("0 0 1-7 * 6#1", "set day-of-month to '?'"),
    ("0 0 L * 6L", "cannot be combined with day-of-month"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 4,6 ?", "never fires"),
]


@pytest.mark.parametrize(("cdata", "needle"), REJECTIONS, ids=[r[0] or "empty" for r in REJECTIONS])
def test_rejections_say_why(cdata, needle):
    with pytest.raises(JobValidationError) as info:
        to_airflow_cron(cdata)
    assert info.value.field == "ScheduledCron"
    assert needle in info.value.message and info.value.message.startswith("ScheduledCron: ")


def test_six_field_form_suggests_the_five_field_one():
    with pytest.raises(JobValidationError, match="'0 2 \\* \\* \\*'"):
        to_airflow_cron("0 0 2 * * *")

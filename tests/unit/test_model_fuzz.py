"""Bad input of any shape is a JobValidationError (a 400), never another exception (a 500)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.cron import to_airflow_cron
from airflow_sync.jobs.events import parse_event
from airflow_sync.jobs.fields import FIELDS
from airflow_sync.jobs.model import Job

CRON_ATOM = st.sampled_from(
    ["*", "?", "L", "W", "#", "/", "-", ",", "0", "1", "5", "7", "12", "31", "60", "MON", "fri", "JAN", "LW"]
)
CRON_FIELD = st.lists(CRON_ATOM, min_size=1, max_size=4).map("".join)
CRONS = st.lists(CRON_FIELD, min_size=1, max_size=7).map(" ".join) | st.text(max_size=30)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.lists(st.integers())
)
KEYS = st.sampled_from(
    [f.wire for f in FIELDS] + ["Query#1", "query#2", "Query#0", "Queries", "JobId", "Type"]
)


@settings(max_examples=400, deadline=None)
@given(CRONS)
def test_cron_translation_never_crashes(text):
    from croniter import croniter

    try:
        out = to_airflow_cron(text)
    except JobValidationError as exc:
        assert exc.field == "ScheduledCron"
        return
    croniter(out)  # what we return, Airflow can schedule


EVENT_HEADS = st.sampled_from(
    ["", "sql:", "http:", "python:", "<api:set ", "<api:call op='sendEmail'>", "<", "&"]
)


@settings(max_examples=300, deadline=None)
@given(EVENT_HEADS, st.text(max_size=60))
def test_event_parsing_never_crashes(head, tail):
    try:
        parse_event(head + tail, field="PreJob")
    except JobValidationError as exc:
        assert exc.field == "PreJob"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS | st.text(max_size=10), SCALARS, max_size=8))
def test_job_body_never_crashes(body):
    try:
        job = Job.from_wire(body)
    except JobValidationError:
        return
    assert Job.from_wire(job.to_wire()) == job

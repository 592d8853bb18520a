"""Property tests: any valid job survives wire and store round trips, whatever spelling the client used."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.fields import FIELDS, INTERVAL_UNITS
from airflow_sync.jobs.model import Job

NAME = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=12
)
TABLE = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ ]{0,15}[A-Za-z0-9_]", fullmatch=True)
EMAIL = st.from_regex(r"[a-z][a-z0-9.+_-]{0,8}@[a-z][a-z0-9-]{0,6}(\.[a-z]{2,4})?", fullmatch=True).filter(
    lambda a: ".." not in a and not re.search(r"\.(@|$)|-(\.|$)", a)
)


@pytest.fixture(scope="module", autouse=True)
def _python_events_allowed():
    """The bodies below may carry ``python: pkg.mod:fn``, which the allow-list must name to be valid."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "pkg.mod:fn")
        yield


def bool_spelling(value: bool) -> st.SearchStrategy[object]:
    words = ["True", "true", "TRUE", "1", "yes"] if value else ["False", "false", "0", "no", "NO"]
    return st.sampled_from([value, int(value), *words])


def int_spelling(value: int) -> st.SearchStrategy[object]:
    return st.sampled_from([value, str(value), f" {value} "])


def cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


@st.composite
def jobs(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object]]:
    """A wire body in random spellings, and the canonical values it must parse to (by wire name)."""
    values: dict[str, object] = {
        "JobName": draw(NAME),
        "Source": draw(NAME),
        "Destination": draw(NAME),
        "Scheduled": draw(st.booleans()),
        "ScheduledCron": draw(
            st.sampled_from(["", "0 2 * * *", "*/15 * * * 2-6", "0 0 L * ?", "0 6 ? * 6#3"])
        ),
        "NotifyWindowsEvent": draw(st.booleans()),
        "SendEmailNotification": draw(st.booleans()),
        "NotifyEmailTo": ", ".join(draw(st.lists(EMAIL, max_size=3))),
        "NotifyEmailSubject": draw(TEXT),
        "EmailErrorOnly": draw(st.booleans()),
        "Verbosity": draw(st.integers(1, 5)),
        "TableNamePrefix": draw(st.sampled_from(["", "sf_", "stage."])),
        "UseGmtDateTime": draw(st.booleans()),
        "TruncateTableData": draw(st.booleans()),
        "DropTable": draw(st.booleans()),
        "AutoTruncateStrings": draw(st.booleans()),
        "ContinueOnError": draw(st.booleans()),
        "AlterSchema": draw(st.booleans()),
        "ReplicateInterval": draw(st.none() | st.integers(1, 10_000)),
        "ReplicateIntervalUnit": draw(st.sampled_from(INTERVAL_UNITS)),
        "ReplicateStartDate": draw(
            st.sampled_from(["", "2020-01-01", "2024-02-29 23:59:59", "2023-06-30T08:15"])
        ),
        "BatchSize": draw(st.integers(1, 1_000_000)),
        "CommandTimeout": draw(st.integers(0, 86_400)),
        "SkipDeleted": draw(st.booleans()),
        "OtherCacheOptions": draw(st.sampled_from(["", "BatchSize=10", "IncrementalCheckColumns='a,b'"])),
        "CacheSchema": draw(st.sampled_from(["", "public", "stage"])),
        "PreJob": draw(
            st.sampled_from(["", "sql: select 1; select 2", '<api:set attr="CancelJob" value="no"/>'])
        ),
        "PostJob": draw(st.sampled_from(["", "http: POST hooks /done", "python: pkg.mod:fn"])),
    }
    if values["Scheduled"] and not values["ScheduledCron"]:
        values["ScheduledCron"] = "0 1 * * *"
    if values["SendEmailNotification"] and not values["NotifyEmailTo"]:
        values["NotifyEmailTo"] = "ops@example.com"
    queries = [f"REPLICATE [{t}]" for t in draw(st.lists(TABLE, max_size=4))]
    body: dict[str, object] = {}
    for spec in FIELDS:
        value = values[spec.wire]
        if isinstance(value, bool):
            raw = draw(bool_spelling(value))
        elif isinstance(value, int):
            raw = draw(int_spelling(value))
        elif value is None:
            raw = draw(st.sampled_from([None, ""]))
        else:
            raw = value
        if raw == spec.default and draw(st.booleans()):
            continue  # omitted fields take their defaults
        body[draw(cased(spec.wire))] = raw
    for n, q in enumerate(queries, start=1):
        body[draw(cased(f"Query#{n}"))] = q
    values["queries"] = tuple(queries)
    return body, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs())
def test_any_spelling_parses_to_canonical_values_and_round_trips(case):
    body, values = case
    job = Job.from_wire(body)
    for spec in FIELDS:
        assert getattr(job, spec.attr) == values[spec.wire], spec.wire
    assert job.queries == values["queries"]

    wire = job.to_wire()
    assert all(isinstance(v, str) for v in wire.values())
    assert Job.from_wire(wire) == job
    stored = json.loads(json.dumps(job.to_store()))  # through real JSON, as the Variable holds it
    assert Job.from_store(stored) == job
    assert Job.from_store(stored).version == job.version == stored["version"]
    assert job.patched({}) == job

    ids = job.query_task_ids()
    assert len(ids) == len(job.queries) and len({i.lower() for i in ids}) == len(ids)
    assert all(re.fullmatch(r"replicate_[A-Za-z0-9_]{1,240}", i) for i in ids)


def test_job_attributes_are_exactly_the_contract():
    contract = [
        "name", "source", "destination", "queries", "job_id", "scheduled", "scheduled_cron",
        "notify_windows_event", "send_email_notification", "notify_email_to", "notify_email_subject",
        "email_error_only", "verbosity", "table_name_prefix", "use_gmt_date_time", "truncate_table_data",
        "drop_table", "auto_truncate_strings", "continue_on_error", "alter_schema", "replicate_interval",
        "replicate_interval_unit", "replicate_start_date", "batch_size", "command_timeout", "skip_deleted",
        "other_cache_options", "cache_schema", "pre_job", "post_job", "task_ids", "schedule_since",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(Job)] == contract
    assert {f.attr for f in FIELDS} == set(contract) - {"queries", "job_id", "task_ids", "schedule_since"}
    defaults = {f.name: f.default for f in dataclasses.fields(Job) if f.default is not dataclasses.MISSING}
    assert all(defaults[f.attr] == f.default for f in FIELDS if not f.required)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs(), jobs(), st.data())
def test_patch_equals_create_from_merged_fields(base, other, data):
    """Modify = create from (stored fields, then the sent ones; any Query#N replaces all queries)."""
    job = Job.from_wire(base[0])
    other_wire = Job.from_wire(other[0]).to_wire()
    keys = data.draw(st.sets(st.sampled_from([f.wire for f in FIELDS if f.wire != "JobName"])))
    patch = {k: other_wire[k] for k in keys}
    if data.draw(st.booleans()):
        patch |= {k: v for k, v in other_wire.items() if k.startswith("Query#")}
    expected_body = {
        k: v
        for k, v in job.to_wire().items()
        if not k.startswith("Query#") or not any(p.startswith("Query#") for p in patch)
    } | patch
    try:
        expected = Job.from_wire(expected_body)
    except JobValidationError as exc:
        with pytest.raises(JobValidationError) as info:
            job.patched(patch)
        assert info.value.field == exc.field
        return
    assert job.patched(patch) == expected

"""Job model: wire parsing and serialization, validation errors, patch semantics, version, task ids."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from airflow_sync.exceptions import JobValidationError, JobValidationErrors, ReplicateSyntaxError
from airflow_sync.jobs.fields import FIELDS
from airflow_sync.jobs.model import Job, validate_connections

BASE = {"JobName": "Orders", "Source": "src_db", "Destination": "dst_db", "Query#1": "REPLICATE [Orders]"}


def make(**extra: object) -> Job:
    return Job.from_wire({**BASE, **extra})


def errors_of(body: dict) -> JobValidationErrors:
    with pytest.raises(JobValidationErrors) as info:
        Job.from_wire(body)
    return info.value


# --- defaults and round trips ------------------------------------------------------------------------------


def test_minimal_job_has_documented_defaults():
    job = Job.from_wire({"JobName": "J", "Source": "s", "Destination": "d"})
    assert job.queries == ()
    assert (job.scheduled, job.verbosity, job.batch_size, job.command_timeout) == (False, 2, 1000, 0)
    assert (job.continue_on_error, job.alter_schema, job.replicate_interval_unit) == (True, True, "days")
    assert job.replicate_interval is None
    uuid.UUID(job.job_id)  # a fresh UUID


def test_to_wire_emits_cdata_string_scalars_and_numbered_queries():
    job = make(BatchSize=500, Scheduled=True, ScheduledCron="0 2 * * *", **{"Query#2": "REPLICATE [Lines]"})
    wire = job.to_wire()
    assert wire["JobId"] == job.job_id and wire["Type"] == "Standard"
    assert wire["BatchSize"] == "500" and wire["Scheduled"] == "True" and wire["DropTable"] == "False"
    assert wire["ReplicateInterval"] == "" and wire["Verbosity"] == "2"
    assert wire["Query#1"] == "REPLICATE [Orders]" and wire["Query#2"] == "REPLICATE [Lines]"
    assert "Queries" not in wire
    assert all(isinstance(v, str) for v in wire.values())
    assert {f.wire for f in FIELDS} <= set(wire)


def test_get_response_can_be_put_back_as_is():
    job = make(ReplicateInterval="7", NotifyEmailTo="a@example.com", CacheSchema="stage")
    wire = job.to_wire() | {
        "Status": "Not Started",
        "DagId": "sync__Orders",
        "LastRun": "",
        "NextRun": None,
        "CanUpdate": "True",
        "CanRemove": "True",
        "CanExecute": "True",
        "WorkspaceId": "default",
    }
    assert Job.from_wire(wire) == job  # JobId is taken over
    assert job.patched(wire) == job


def test_store_round_trip_is_lossless_and_carries_version():
    job = make(ReplicateInterval=3, ReplicateStartDate="2024-01-02 03:04", PostJob="sql: select 1")
    data = job.to_store()
    assert data["version"] == job.version and data["job_id"] == job.job_id
    assert Job.from_store(data) == job
    assert Job.from_store(data).version == job.version


def test_from_store_fills_defaults_of_older_records():
    data = make().to_store()
    del data["skip_deleted"], data["batch_size"]
    job = Job.from_store(data)
    assert job.skip_deleted is False and job.batch_size == 1000


def test_explicit_job_id_wins_over_body_job_id():
    other = str(uuid.uuid4())
    assert Job.from_wire({**BASE, "JobId": str(uuid.uuid4())}, job_id=other).job_id == other
    upper = str(uuid.uuid4()).upper()
    assert Job.from_wire({**BASE, "JobId": upper}).job_id == upper.lower()


# --- field names and scalars -------------------------------------------------------------------------------


def test_field_names_are_case_insensitive():
    job = Job.from_wire(
        {"jobname": "J", "SOURCE": "s", "destination": "d", "batchsize": "10", "query#1": "REPLICATE [T]"}
    )
    assert (job.name, job.source, job.batch_size, job.queries) == ("J", "s", 10, ("REPLICATE [T]",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("True", True),
        ("true", True),
        (True, True),
        ("1", True),
        (1, True),
        ("YES", True),
        (" yes ", True),
        ("False", False),
        ("false", False),
        (False, False),
        ("0", False),
        (0, False),
        ("No", False),
        # JSON Schema cannot tell 1.0 from 1 (both are the integer 1), so the server does not either
        (1.0, True),
        (0.0, False),
        ("true\n", True),
    ],
)
def test_boolean_forms(raw, expected):
    assert make(DropTable=raw).drop_table is expected


@pytest.mark.parametrize("raw", ["maybe", "2", 2, "", "on", 1.5, "\x0btrue", [], {}])
def test_bad_boolean_names_field_and_accepted_values(raw):
    err = errors_of({**BASE, "SkipDeleted": raw})
    assert err.field == "SkipDeleted"
    assert "SkipDeleted" in err.message and "True/False" in err.message


@pytest.mark.parametrize(
    ("field", "raw", "attr", "expected"),
    [
        ("BatchSize", "500", "batch_size", 500),
        ("BatchSize", 1_000_000, "batch_size", 1_000_000),
        ("BatchSize", " 1 ", "batch_size", 1),
        ("CommandTimeout", "0", "command_timeout", 0),
        ("Verbosity", 5, "verbosity", 5),
        ("ReplicateInterval", "30", "replicate_interval", 30),
        ("ReplicateInterval", "", "replicate_interval", None),
        ("ReplicateIntervalUnit", "HOURS", "replicate_interval_unit", "hours"),
        ("ReplicateIntervalUnit", "Month", "replicate_interval_unit", "months"),
        ("ReplicateStartDate", "2024-02-29", "replicate_start_date", "2024-02-29"),
        ("ReplicateStartDate", "2024-02-29 23:59:59", "replicate_start_date", "2024-02-29 23:59:59"),
        ("ReplicateStartDate", "2024-02-29T08:00", "replicate_start_date", "2024-02-29T08:00"),
        ("TableNamePrefix", "  sf_ ", "table_name_prefix", "sf_"),
        (
            "NotifyEmailTo",
            "a@example.com, b.c+d@mail.example.org,ops@localhost",
            "notify_email_to",
            "a@example.com, b.c+d@mail.example.org,ops@localhost",
        ),
        ("Verbosity", None, "verbosity", 2),
    ],
)
def test_scalar_parsing(field, raw, attr, expected):
    assert getattr(make(**{field: raw}), attr) == expected


@pytest.mark.parametrize(
    ("field", "raw", "needle"),
    [
        ("BatchSize", "0", "between 1 and 1000000"),
        ("BatchSize", "1000001", "between 1 and 1000000"),
        ("BatchSize", "12.5", "whole number"),
        ("BatchSize", 12.5, "whole number"),
        ("BatchSize", True, "whole number"),
        ("CommandTimeout", "-1", "between 0 and"),
        ("Verbosity", "6", "between 1 and 5"),
        ("Verbosity", "0", "between 1 and 5"),
        ("ReplicateInterval", "0", "between 1 and"),
        ("ReplicateIntervalUnit", "fortnights", "minutes, hours, days, weeks, months, years"),
        ("ReplicateStartDate", "01/02/2024", "yyyy-MM-dd"),
        ("ReplicateStartDate", "2024-02-30", "yyyy-MM-dd"),
        ("ReplicateStartDate", "2024-01-01 25:00", "yyyy-MM-dd"),
        ("NotifyEmailTo", "ops@example.com, not-an-address", "not-an-address"),
        ("NotifyEmailTo", "Ops <ops@example.com>", "e-mail"),
        ("Source", 42, "must be a string"),
        ("ScheduledCron", "0 0 0 * * *", "seconds"),
        ("PreJob", "rm -rf /", "sql:"),
        ("JobName", "has space", "letters, digits"),
        ("JobName", "-dash", "letters, digits"),
        ("JobName", "x" * 101, "at most 100"),
    ],
)
def test_field_rejections_name_the_field(field, raw, needle):
    err = errors_of({**BASE, field: raw})
    assert err.field == field
    assert needle in err.message and field in err.message


def test_job_name_limits_and_allowed_characters():
    assert make(JobName="a" * 100).name == "a" * 100
    assert make(JobName="_x.y-z9").name == "_x.y-z9"


def test_unknown_fields_are_all_named_with_a_suggestion():
    err = errors_of({**BASE, "BatchSzie": "5", "Colour": "red"})
    assert err.field == "BatchSzie"
    assert "'BatchSzie' (did you mean 'BatchSize'?)" in err.message and "'Colour'" in err.message


def test_queries_list_is_rejected_with_hint():
    err = errors_of({**BASE, "Queries": ["REPLICATE [A]"]})
    assert err.field == "Queries" and "Query#1" in err.message


def test_same_field_twice_in_different_case_is_rejected():
    err = errors_of({**BASE, "source": "other"})
    assert err.field == "Source" and "given twice (as 'Source' and 'source')" in err.message


def test_type_must_be_standard_when_given():
    assert make(Type="standard").name == "Orders"
    err = errors_of({**BASE, "Type": "SyncAll"})
    assert err.field == "Type" and "Standard" in err.message


def test_invalid_job_id_is_rejected():
    assert errors_of({**BASE, "JobId": "not-a-uuid"}).field == "JobId"


def test_required_fields():
    err = errors_of({"Query#1": "REPLICATE [A]"})
    assert [f for f, _ in err.errors] == ["JobName", "Source", "Destination"]
    assert errors_of({**BASE, "Source": " "}).field == "Source"
    assert errors_of({**BASE, "Destination": None}).field == "Destination"


def test_all_errors_of_a_body_are_reported_together():
    err = errors_of({**BASE, "BatchSize": "x", "Verbosity": "9", "Scheduled": "True", "Foo": 1})
    fields = [f for f, _ in err.errors]
    assert set(fields) == {"BatchSize", "Verbosity", "Foo", "ScheduledCron"}
    assert err.message.startswith("4 problems")
    assert isinstance(err, JobValidationError) and err.code == "InvalidJob"


def test_body_must_be_an_object():
    with pytest.raises(JobValidationError):
        Job.from_wire(["JobName"])  # type: ignore[arg-type]


# --- queries -----------------------------------------------------------------------------------------------


def test_queries_are_ordered_by_number_and_stripped():
    body = {k: v for k, v in BASE.items() if k != "Query#1"}
    job = Job.from_wire(
        {**body, "Query#2": "  REPLICATE [B]\n", "query#1": "REPLICATE [A]", "Query#3": "REPLICATE [C]"}
    )
    assert job.queries == ("REPLICATE [A]", "REPLICATE [B]", "REPLICATE [C]")


@pytest.mark.parametrize(
    ("queries", "field"),
    [
        ({"Query#1": "REPLICATE [A]", "Query#3": "REPLICATE [C]"}, "Query#2"),
        ({"Query#2": "REPLICATE [B]"}, "Query#1"),
        ({"Query#0": "REPLICATE [B]"}, "Query#0"),
        ({"Query#1": "   "}, "Query#1"),
        ({"Query#1": 5}, "Query#1"),
    ],
)
def test_bad_query_numbering_or_blank_query(queries, field):
    body = {k: v for k, v in BASE.items() if k != "Query#1"} | queries
    assert errors_of(body).field == field


def test_duplicate_query_number_is_rejected():
    err = errors_of({**BASE, "query#01": "REPLICATE [X]"})
    assert err.field == "Query#1" and "given twice" in err.message


def test_query_syntax_error_names_the_query():
    err = errors_of({**BASE, "Query#2": "REPLICATE"})
    assert err.field == "Query#2" and err.code == "InvalidQuery"
    assert isinstance(err.causes[0], ReplicateSyntaxError)


def test_statements_are_parsed_queries():
    job = make(**{"Query#2": "REPLICATE [Dst] SELECT a FROM [Src]"})
    assert [s.target.name for s in job.statements] == ["Orders", "Dst"]
    assert Job.from_store(job.to_store()).statements == job.statements


# --- cross-field rules -------------------------------------------------------------------------------------


def test_scheduled_requires_cron_and_schedule_is_translated():
    assert errors_of({**BASE, "Scheduled": "True"}).field == "ScheduledCron"
    job = make(Scheduled="True", ScheduledCron="30 6 * * 2-6")
    assert job.schedule == "30 6 * * 1-5"
    assert make(ScheduledCron="0 1 * * *").schedule is None  # not scheduled


def test_cron_is_validated_even_when_not_scheduled():
    assert errors_of({**BASE, "ScheduledCron": "61 * * * *"}).field == "ScheduledCron"


def test_email_notification_requires_recipients():
    assert errors_of({**BASE, "SendEmailNotification": "true"}).field == "NotifyEmailTo"
    job = make(SendEmailNotification="true", NotifyEmailTo="a@example.com,b@example.com")
    assert job.notify_email_recipients == ("a@example.com", "b@example.com")


def test_other_cache_options_are_validated():
    assert make(OtherCacheOptions="BatchSize=10").other_cache_options == "BatchSize=10"
    assert errors_of({**BASE, "OtherCacheOptions": "NoSuchOption=1"}).field == "OtherCacheOptions"


# --- patch -------------------------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields():
    job = make(BatchSize=10, **{"Query#2": "REPLICATE [B]"})
    new = job.patched({"verbosity": "4"})
    assert new.verbosity == 4 and new.batch_size == 10 and new.queries == job.queries
    assert new.job_id == job.job_id and new.name == job.name


def test_patch_with_any_query_replaces_all_queries():
    job = make(**{"Query#2": "REPLICATE [B]", "Query#3": "REPLICATE [C]"})
    assert job.patched({"Query#1": "REPLICATE [Z]"}).queries == ("REPLICATE [Z]",)


def test_patch_null_resets_to_default():
    assert make(BatchSize=10).patched({"BatchSize": None}).batch_size == 1000


def test_patch_cannot_rename():
    job = make()
    assert job.patched({"JobName": "Orders", "Verbosity": 3}).verbosity == 3
    with pytest.raises(JobValidationError, match="JobName cannot be changed") as info:
        job.patched({"JobName": "Other"})
    assert info.value.field == "JobName"


def test_patch_applies_cross_field_rules_to_the_merged_job():
    job = make(ScheduledCron="0 2 * * *")
    assert job.patched({"Scheduled": "true"}).schedule == "0 2 * * *"
    with pytest.raises(JobValidationError) as info:
        make().patched({"Scheduled": "true"})
    assert info.value.field == "ScheduledCron"


def test_patch_rejects_unknown_fields_and_bad_values():
    with pytest.raises(JobValidationErrors) as info:
        make().patched({"Bogus": 1, "BatchSize": "0", "Source": ""})
    assert {f for f, _ in info.value.errors} == {"Bogus", "BatchSize", "Source"}


# --- version -----------------------------------------------------------------------------------------------


def test_version_depends_on_content_only():
    a = make()
    b = Job.from_wire(BASE)  # other job id
    assert a.job_id != b.job_id and a.version == b.version
    assert len(a.version) == 16 and int(a.version, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"BatchSize": 999},
        {"Query#1": "REPLICATE [Other]"},
        {"TableNamePrefix": "x_"},
        {"Scheduled": True, "ScheduledCron": "0 1 * * *"},
        {"PreJob": "sql: select 1"},
        {"ReplicateInterval": 1},
        {"Source": "s2"},
    ],
)
def test_any_content_change_changes_version(change):
    job = make()
    assert job.patched(change).version != job.version


def test_field_order_in_body_does_not_change_version():
    a = Job.from_wire(dict(reversed(list({**BASE, "BatchSize": 5, "DropTable": "1"}.items()))))
    assert a.version == make(BatchSize="5", DropTable=True).version


# --- dag id and task ids -----------------------------------------------------------------------------------


def test_dag_id_uses_prefix():
    assert make().dag_id() == "sync__Orders"
    assert make().dag_id("x_") == "x_Orders"


def test_query_task_ids_are_sanitized_unique_and_in_order():
    job = make(
        **{
            "Query#2": "REPLICATE dbo.[Order Lines]",
            "Query#3": "REPLICATE [orders] SELECT * FROM other.Orders",
            "Query#4": 'REPLICATE "my-table"',
            "Query#5": "REPLICATE [Orders]",
        }
    )
    assert job.query_task_ids() == (
        "replicate_Orders",
        "replicate_Order_Lines",
        "replicate_orders_2",
        "replicate_my_table",
        "replicate_Orders_3",
    )


def test_query_task_ids_ignore_table_name_prefix_and_survive_edits():
    job = make(**{"Query#2": "REPLICATE [B]"})
    assert job.patched({"TableNamePrefix": "pre_"}).query_task_ids() == job.query_task_ids()
    assert job.patched({"Query#1": "REPLICATE [B]", "Query#2": "REPLICATE [Orders]"}).query_task_ids() == (
        "replicate_B",
        "replicate_Orders",
    )


def test_query_task_ids_stay_within_airflow_limit_and_distinct():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    job = make(
        **{"Query#1": f"REPLICATE [{a}]", "Query#2": f"REPLICATE [{b}]", "Query#3": f"REPLICATE [{a}]"}
    )
    ids = job.query_task_ids()
    assert len(set(ids)) == 3 and all(len(i) <= 250 for i in ids)
    assert all(i.startswith("replicate_xxx") for i in ids)


# --- connections -------------------------------------------------------------------------------------------


def test_validate_connections():
    types = {"src_db": "postgres", "dst_db": "mysql", "gen": "dbapi:oracle", "web": "http"}
    validate_connections(make(), types.get)
    validate_connections(make(Source="gen"), types.get)
    with pytest.raises(JobValidationErrors) as info:
        validate_connections(make(Source="missing", Destination="web"), types.get)
    assert [f for f, _ in info.value.errors] == ["Source", "Destination"]
    assert "'missing' does not exist" in info.value.message and "'http'" in info.value.message


def test_dag_id_prefix_comes_from_airflow_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__DAG_ID_PREFIX", "cdata_")
    assert make().dag_id() == "cdata_Orders"


def test_generic_marker_is_accepted():
    validate_connections(make(Destination="g"), {"src_db": "sqlite", "g": "generic:mssql"}.get)


def test_model_validation_imports_no_airflow():
    code = (
        "import sys\n"
        "from airflow_sync.jobs.model import Job\n"
        "job = Job.from_wire({'JobName': 'a', 'Source': 's', 'Destination': 'd', 'Query#1': 'REPLICATE t',"
        " 'Scheduled': 1, 'ScheduledCron': '0 0 ? * 2#1', 'PreJob': 'sql: select 1',"
        " 'OtherCacheOptions': 'BatchSize=5'})\n"
        "job.query_task_ids(), job.schedule, job.version, Job.from_store(job.to_store())\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'airflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


BAD_BY_COERCER = {
    "to_bool": "maybe",
    "to_int": "ten",
    "to_opt_int": "ten",
    "to_str": 12,
    "to_interval_unit": "ages",
}


@pytest.mark.parametrize("spec", FIELDS, ids=[f.wire for f in FIELDS])
def test_every_field_rejects_a_bad_value_naming_itself(spec):
    body = {k: v for k, v in BASE.items() if k != spec.wire}
    err = errors_of({**body, spec.wire.upper(): BAD_BY_COERCER[spec.coerce.__name__]})
    assert err.field == spec.wire and spec.wire in err.message


@pytest.mark.parametrize("spec", FIELDS, ids=[f.wire for f in FIELDS])
def test_every_field_is_echoed_as_a_string(spec):
    assert isinstance(make().to_wire()[spec.wire], str)


def test_from_store_coerces_hand_edited_types_and_rejects_garbage():
    data = make().to_store() | {"batch_size": "500", "drop_table": "true"}
    job = Job.from_store(data)
    assert job.batch_size == 500 and job.drop_table is True
    for bad in ({"batch_size": "lots"}, {"queries": "REPLICATE [A]"}, {"job_id": None} | {"name": 5}):
        with pytest.raises(JobValidationError, match="stored job record is malformed"):
            Job.from_store(make().to_store() | bad)
    with pytest.raises(JobValidationError, match="malformed"):
        Job.from_store({"name": "x"})


def test_invalid_cron_when_scheduled_is_reported_once_not_as_missing():
    from airflow_sync.exceptions import JobValidationError
    from airflow_sync.jobs.model import Job

    with pytest.raises(JobValidationError) as err:
        Job.from_wire(
            {
                "JobName": "a",
                "Source": "s",
                "Destination": "d",
                "Scheduled": "True",
                "ScheduledCron": "0 0 30 2 *",
            }
        )
    assert "never" in str(err.value) or "30" in str(err.value)
    assert "is required" not in str(err.value)

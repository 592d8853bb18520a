"""Option catalog, OtherCacheOptions parsing, build_plan (WITH > OtherCacheOptions > job field > default)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.model import Job
from airflow_sync.jobs.options import OPTIONS, build_plan, parse_option_list, parse_start_date
from airflow_sync.jobs.replicate import parse_replicate
from airflow_sync.jobs.statement import ColumnDef, TableRef, Token

SPEC_OPTIONS = {
    "DropTable": (bool, False),
    "TruncateTable": (bool, False),
    "AlterSchema": (bool, True),
    "AutoTruncateStrings": (bool, False),
    "SkipDeleted": (bool, False),
    "BatchSize": (int, 1000),
    "CommandTimeout": (int, 0),
    "CacheSchema": (str, ""),
    "TableNamePrefix": (str, ""),
    "UseGmtDateTime": (bool, False),
    "ReplicateStartDate": (str, ""),
    "ReplicateInterval": (int, None),
    "ReplicateIntervalUnit": (("minutes", "hours", "days", "weeks", "months", "years"), "days"),
    "IncrementalCheckColumns": (str, ""),
    "PrimaryKey": (str, ""),
    "MaxLastModTimeOffset": (int, 300),
    "MinLastModTimeOffset": (int, 0),
    "DeleteDetection": (("none", "keys"), "none"),
}


def make_job(**fields: Any) -> Job:
    base: dict[str, Any] = {
        "name": "J",
        "source": "src",
        "destination": "dst",
        "queries": ("REPLICATE [T]",),
        "job_id": "00000000-0000-0000-0000-000000000001",
    }
    return Job(**(base | fields))


def plan_for(query: str, env: dict[str, str] | None = None, **job_fields: Any):
    return build_plan(make_job(queries=(query,), **job_fields), parse_replicate(query), "replicate_T", env)


# --- catalog ------------------------------------------------------------------------------------------------


def test_catalog_is_the_spec_list() -> None:
    assert {name: (spec.type, spec.default) for name, spec in OPTIONS.items()} == SPEC_OPTIONS
    for name, (typ, default, description) in OPTIONS.items():
        assert description, name
        assert default is None or isinstance(default, str if isinstance(typ, tuple) else typ)


def test_catalog_defaults_match_the_plan_defaults() -> None:
    plan = plan_for("REPLICATE [T]")
    assert (plan.drop_table, plan.truncate_table, plan.alter_schema) == (False, False, True)
    assert (plan.auto_truncate_strings, plan.skip_deleted, plan.use_gmt) == (False, False, False)
    assert (plan.batch_size, plan.command_timeout) == (1000, 0)
    assert (plan.max_lastmod_offset, plan.min_lastmod_offset) == (300, 0)
    assert (plan.replicate_interval, plan.replicate_interval_unit, plan.replicate_start_date) == (
        None,
        "days",
        None,
    )
    assert (plan.delete_detection, plan.incremental_check_columns, plan.primary_key) == ("none", (), ())
    assert (plan.destination, plan.destination_schema, plan.source) == ("T", None, TableRef(("T",)))
    assert (plan.job_name, plan.query_id, plan.verbosity, plan.env) == ("J", "replicate_T", 2, {})


# --- OtherCacheOptions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        ("DropTable", {"DropTable": True}),
        ("droptable=false", {"DropTable": False}),
        (
            "IncrementalCheckColumns='updated,modified',MaxLastModTimeOffset=300",
            {"IncrementalCheckColumns": "updated,modified", "MaxLastModTimeOffset": 300},
        ),
        ("TruncateTableData=True, BatchSize = '20'", {"TruncateTable": True, "BatchSize": 20}),
        ("ReplicateIntervalUnit=WEEKS", {"ReplicateIntervalUnit": "weeks"}),
        (
            'CacheSchema="my schema", TableNamePrefix=stg_',
            {"CacheSchema": "my schema", "TableNamePrefix": "stg_"},
        ),
        ("ReplicateStartDate='2024-01-01 00:00:00'", {"ReplicateStartDate": "2024-01-01 00:00:00"}),
        ("DeleteDetection=keys", {"DeleteDetection": "keys"}),
    ],
)
def test_parse_option_list(text: str, expected: dict[str, object]) -> None:
    assert parse_option_list(text, field="OtherCacheOptions") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bogus=1", "OtherCacheOptions: unknown option 'Bogus'; valid options are: DropTable"),
        ("IncrementalCheckColumn='x'", "did you mean IncrementalCheckColumns?"),
        ("BatchSize=lots", "option BatchSize takes a whole number, not 'lots' (at position 10)"),
        ("DropTable=2", "option DropTable takes true or false, not '2'"),
        ("CommandTimeout=-1", "option CommandTimeout must be at least 0, not -1"),
        ("ReplicateInterval=0", "option ReplicateInterval must be at least 1, not 0"),
        ("DeleteDetection=all", "option DeleteDetection takes one of none, keys, not 'all'"),
        ("ReplicateStartDate=yesterday", "'yesterday' is not a date"),
        (
            "IncrementalCheckColumns='a b'",
            "IncrementalCheckColumns must be a comma-separated list of column names",
        ),
        ("DropTable SkipDeleted", "expected ',' or end of the option list, found 'SkipDeleted'"),
        ("DropTable;SkipDeleted", "only one statement is allowed"),
        ("A='unterminated", "unterminated string"),
        ("DropTable,", "expected option name after ',', found end of input"),
        ("DropTable, DropTable", "option DropTable is given twice"),
    ],
)
def test_parse_option_list_errors(text: str, message: str) -> None:
    with pytest.raises(JobValidationError) as info:
        parse_option_list(text, field="OtherCacheOptions")
    assert info.value.field == "OtherCacheOptions"
    assert message in str(info.value)


# --- every option through build_plan ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "attribute", "value"),
    [
        ("DropTable", "drop_table", True),
        ("TruncateTable", "truncate_table", True),
        ("AlterSchema=false", "alter_schema", False),
        ("AutoTruncateStrings", "auto_truncate_strings", True),
        ("SkipDeleted", "skip_deleted", True),
        ("BatchSize=50", "batch_size", 50),
        ("CommandTimeout=12", "command_timeout", 12),
        ("CacheSchema='stage'", "destination_schema", "stage"),
        ("TableNamePrefix='x_'", "destination", "x_T"),
        ("UseGmtDateTime", "use_gmt", True),
        ("ReplicateStartDate='2024-03-01'", "replicate_start_date", datetime(2024, 3, 1)),
        ("ReplicateStartDate='2024-03-01 10:20'", "replicate_start_date", datetime(2024, 3, 1, 10, 20)),
        (
            "ReplicateStartDate='2024-03-01 10:20:30'",
            "replicate_start_date",
            datetime(2024, 3, 1, 10, 20, 30),
        ),
        ("ReplicateInterval=7", "replicate_interval", 7),
        ("ReplicateIntervalUnit=hours", "replicate_interval_unit", "hours"),
        (
            "IncrementalCheckColumns='updated, [Last Modified]'",
            "incremental_check_columns",
            ("updated", "Last Modified"),
        ),
        ("PrimaryKey='a,[b c]'", "primary_key", ("a", "b c")),
        ("MaxLastModTimeOffset=60", "max_lastmod_offset", 60),
        ("MinLastModTimeOffset=30", "min_lastmod_offset", 30),
        ("DeleteDetection=keys", "delete_detection", "keys"),
    ],
)
def test_each_option_reaches_the_plan(option: str, attribute: str, value: object) -> None:
    assert getattr(plan_for(f"REPLICATE [T] WITH {option}"), attribute) == value
    # the same through OtherCacheOptions
    assert getattr(plan_for("REPLICATE [T]", other_cache_options=option), attribute) == value


# --- precedence ---------------------------------------------------------------------------------------------


def test_with_beats_other_cache_options_beats_job_field() -> None:
    job_only = plan_for("REPLICATE [T]", batch_size=10)
    assert job_only.batch_size == 10
    other = plan_for("REPLICATE [T]", batch_size=10, other_cache_options="BatchSize=20")
    assert other.batch_size == 20
    with_ = plan_for("REPLICATE [T] WITH BatchSize=30", batch_size=10, other_cache_options="BatchSize=20")
    assert with_.batch_size == 30


@pytest.mark.parametrize(
    ("job_fields", "attribute", "value"),
    [
        ({"drop_table": True}, "drop_table", True),
        ({"truncate_table_data": True}, "truncate_table", True),
        ({"alter_schema": False}, "alter_schema", False),
        ({"auto_truncate_strings": True}, "auto_truncate_strings", True),
        ({"skip_deleted": True}, "skip_deleted", True),
        ({"batch_size": 7}, "batch_size", 7),
        ({"command_timeout": 9}, "command_timeout", 9),
        ({"cache_schema": "rpt"}, "destination_schema", "rpt"),
        ({"table_name_prefix": "p_"}, "destination", "p_T"),
        ({"use_gmt_date_time": True}, "use_gmt", True),
        ({"replicate_start_date": "2023-05-06 07:08"}, "replicate_start_date", datetime(2023, 5, 6, 7, 8)),
        ({"replicate_interval": 3}, "replicate_interval", 3),
        ({"replicate_interval_unit": "months"}, "replicate_interval_unit", "months"),
        ({"verbosity": 4}, "verbosity", 4),
    ],
)
def test_job_fields_reach_the_plan(job_fields: dict[str, Any], attribute: str, value: object) -> None:
    assert getattr(plan_for("REPLICATE [T]", **job_fields), attribute) == value


def test_with_false_overrides_a_true_job_field() -> None:
    plan = plan_for(
        "REPLICATE [T] WITH TruncateTable=false, DropTable=false", truncate_table_data=True, drop_table=True
    )
    assert (plan.truncate_table, plan.drop_table) == (False, False)
    plan = plan_for("REPLICATE [T]", truncate_table_data=True, other_cache_options="TruncateTable=false")
    assert plan.truncate_table is False


def test_table_name_prefix_only_for_implicit_names() -> None:
    assert plan_for("REPLICATE [Orders]", table_name_prefix="stg_").destination == "stg_Orders"
    explicit = plan_for("REPLICATE [Orders] SELECT * FROM [Orders]", table_name_prefix="stg_")
    assert explicit.destination == "Orders"
    assert plan_for("REPLICATE [O] WITH TableNamePrefix='w_'", table_name_prefix="stg_").destination == "w_O"
    assert plan_for("REPLICATE [O] WITH TableNamePrefix=''", table_name_prefix="stg_").destination == "O"


def test_source_schema_and_destination_schema() -> None:
    implicit = plan_for("REPLICATE [dbo].[Orders]", cache_schema="rpt")
    assert implicit.source == TableRef(("dbo", "Orders"))
    assert (implicit.destination_schema, implicit.destination) == ("rpt", "Orders")
    explicit = plan_for("REPLICATE [mart].[Orders] SELECT * FROM [dbo].[Orders]", cache_schema="rpt")
    assert (explicit.destination_schema, explicit.destination) == ("mart", "Orders")
    assert explicit.select is not None and explicit.select.is_star


def test_statement_primary_key_wins_over_the_option() -> None:
    plan = plan_for("REPLICATE [T] (Id int, K int, PRIMARY KEY (Id)) WITH PrimaryKey='K'")
    assert plan.primary_key == ("Id",)
    assert plan.columns == (ColumnDef("Id", "int"), ColumnDef("K", "int"))
    assert plan_for("REPLICATE [T]", other_cache_options="PrimaryKey='K, L'").primary_key == ("K", "L")


def test_max_offset_below_min_is_raised_to_min() -> None:
    plan = plan_for("REPLICATE [T] WITH MaxLastModTimeOffset=300, MinLastModTimeOffset=360")
    assert (plan.max_lastmod_offset, plan.min_lastmod_offset) == (360, 360)


def test_interval_zero_on_the_job_means_no_windows() -> None:
    assert plan_for("REPLICATE [T]", replicate_interval=0).replicate_interval is None


def test_invalid_other_cache_options_names_the_field() -> None:
    with pytest.raises(JobValidationError) as info:
        plan_for("REPLICATE [T]", other_cache_options="Nope=1")
    assert info.value.field == "OtherCacheOptions"


def test_invalid_job_start_date_is_a_validation_error() -> None:
    with pytest.raises(JobValidationError, match="is not a date"):
        plan_for("REPLICATE [T]", replicate_start_date="31/01/2024")


# --- {env:NAME} ---------------------------------------------------------------------------------------------


def test_env_placeholders_are_substituted_in_select_and_options() -> None:
    query = (
        "REPLICATE [D] WITH ReplicateStartDate={env:start}, CacheSchema='s_{env:tenant}' "
        "SELECT a, {env:tenant} AS tenant FROM [S] WHERE b > '{env:start}'"
    )
    plan = plan_for(query, env={"start": "2024-05-01", "tenant": "o'neil"})
    assert plan.replicate_start_date == datetime(2024, 5, 1)
    assert plan.destination_schema == "s_o'neil"
    assert plan.select is not None and plan.select.where is not None
    assert plan.select.where.tokens[-1] == Token("string", "2024-05-01")
    assert plan.select.items[1].expr is not None
    assert plan.select.items[1].expr.tokens == (Token("string", "o'neil"),)
    assert plan.env == {"start": "2024-05-01", "tenant": "o'neil"}


def test_env_in_other_cache_options() -> None:
    plan = plan_for(
        "REPLICATE [T]", env={"c": "changed_at"}, other_cache_options="IncrementalCheckColumns='{env:c}'"
    )
    assert plan.incremental_check_columns == ("changed_at",)


def test_env_placeholders_are_kept_without_env() -> None:
    plan = plan_for("REPLICATE [D] SELECT * FROM [S] WHERE b > {env:start}")
    assert plan.select is not None and plan.select.where is not None
    assert plan.select.where.tokens[-1] == Token("string", "{env:start}")


def test_missing_env_variable_fails_naming_it() -> None:
    with pytest.raises(JobValidationError, match=r"query replicate_T: \{env:start\} is not set"):
        plan_for("REPLICATE [D] SELECT * FROM [S] WHERE b > {env:start}", env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", datetime(2024, 1, 31)),
        (" 2024-01-31 23:59 ", datetime(2024, 1, 31, 23, 59)),
        ("2024-01-31 23:59:58", datetime(2024, 1, 31, 23, 59, 58)),
        ("2024-01-31T01:02:03", datetime(2024, 1, 31, 1, 2, 3)),
    ],
)
def test_parse_start_date(text: str, expected: datetime) -> None:
    assert parse_start_date(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "2024/01/31", "31-01-2024", "2024-01-31 25:00", "now", ""])
def test_parse_start_date_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="yyyy-MM-dd"):
        parse_start_date(text)

"""Replication options: the catalog, value coercion, ``OtherCacheOptions`` and the plan builder.

An option can be set in three places; :func:`build_plan` is the one place that merges them, with this
precedence: the statement's ``WITH`` > the job's ``OtherCacheOptions`` > the job field of the same meaning >
the catalog default (``spec/replicate-sql.md`` §1).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.exceptions import JobValidationError, ReplicateSyntaxError
from airflow_sync.jobs.statement import OptionValue, ReplicateStatement

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job

#: an option's type: ``bool``, ``int``, ``str`` or a tuple of allowed (lower-case) words for an enum
OptionType = type | tuple[str, ...]

INTERVAL_UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
DELETE_DETECTION = ("none", "keys")


class OptionSpec(NamedTuple):
    """One catalog entry: ``(type, default, description)``."""

    type: OptionType
    default: OptionValue | None
    description: str


OPTIONS: dict[str, OptionSpec] = {
    "DropTable": OptionSpec(bool, False, "Drop and recreate the destination table before loading."),
    "TruncateTable": OptionSpec(bool, False, "Empty the destination table in the load transaction."),
    "AlterSchema": OptionSpec(bool, True, "Add new columns / widen types in the destination."),
    "AutoTruncateStrings": OptionSpec(bool, False, "Cut strings longer than the destination column."),
    "SkipDeleted": OptionSpec(bool, False, "Do not delete destination rows whose keys left the source."),
    "BatchSize": OptionSpec(int, 1000, "Rows per read/write batch."),
    "CommandTimeout": OptionSpec(int, 0, "Destination statement timeout in seconds (0 = none)."),
    "CacheSchema": OptionSpec(str, "", "Destination schema (MySQL: database)."),
    "TableNamePrefix": OptionSpec(str, "", "Prefix of implicitly named destination tables."),
    "UseGmtDateTime": OptionSpec(bool, False, "Take naive source datetimes as UTC."),
    "ReplicateStartDate": OptionSpec(
        str, "", "Lower bound of the first incremental load (yyyy-MM-dd[ HH:mm[:ss]])."
    ),
    "ReplicateInterval": OptionSpec(int, None, "Size of each incremental window, in ReplicateIntervalUnit."),
    "ReplicateIntervalUnit": OptionSpec(INTERVAL_UNITS, "days", "Unit of ReplicateInterval."),
    "IncrementalCheckColumns": OptionSpec(
        str, "", "Check column or comma list; the first that exists is used."
    ),
    "PrimaryKey": OptionSpec(str, "", "Key columns (comma list) when the source has no primary key."),
    "MaxLastModTimeOffset": OptionSpec(int, 300, "Watermark may advance to run start minus this (seconds)."),
    "MinLastModTimeOffset": OptionSpec(
        int, 0, "Watermark stays at least this far before run start (seconds)."
    ),
    "DeleteDetection": OptionSpec(
        DELETE_DETECTION, "none", "'keys': key-set delete detection on incremental runs."
    ),
}

#: other spellings accepted for an option (lower-case) -> canonical name. ``TruncateTableData`` is the
#: job-level field name of ``TruncateTable``, so people write it in ``OtherCacheOptions`` too.
ALIASES: dict[str, str] = {"truncatetabledata": "TruncateTable"}

_BY_LOWER = {name.lower(): name for name in OPTIONS} | ALIASES
_MINIMUM = {
    "BatchSize": 1,
    "CommandTimeout": 0,
    "ReplicateInterval": 1,
    "MaxLastModTimeOffset": 0,
    "MinLastModTimeOffset": 0,
}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_ENV = re.compile(r"\{env:[A-Za-z0-9_.\-]+\}", re.IGNORECASE)
_START_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
)


def canonical_option_name(name: str) -> str | None:
    """The catalog spelling of an option name (case-insensitive), or None when it is unknown."""
    return _BY_LOWER.get(name.strip().lower())


def unknown_option_message(name: str) -> str:
    """Error text for an unknown option, naming the closest valid option (or all of them)."""
    close = difflib.get_close_matches(name.lower(), list(_BY_LOWER), n=1, cutoff=0.6)
    if close:
        return f"unknown option {name!r} (did you mean {_BY_LOWER[close[0]]}?)"
    return f"unknown option {name!r}; valid options are: {', '.join(OPTIONS)}"


def parse_start_date(text: str) -> datetime:
    """Parse ``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm`` or ``yyyy-MM-dd HH:mm:ss`` into a naive datetime.

    :raises ValueError: with a message naming the accepted formats
    """
    value = text.strip()
    for fmt in _START_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date: use yyyy-MM-dd, yyyy-MM-dd HH:mm or yyyy-MM-dd HH:mm:ss")


def coerce_option(name: str, kind: str | None, text: str) -> OptionValue:
    """Convert one written option value to the option's type.

    :param name: canonical option name
    :param kind: how the value was written: ``None`` (bare flag), ``"string"`` (quoted), ``"number"``,
        ``"word"`` (bare word), ``"ident"`` (quoted identifier) or ``"env"`` (an ``{env:NAME}`` placeholder;
        ``text`` is the placeholder itself)
    :param text: the value (unquoted)
    :raises ValueError: the value does not fit; the message names the option and what it takes
    """
    spec = OPTIONS[name]
    if kind is None:
        if spec.type is bool:
            return True
        raise ValueError(f"option {name} needs a value ({name}=...)")
    if kind == "env" and spec.type is not str:
        raise ValueError(f"option {name}: {{env:...}} placeholders are only allowed in text options")
    if spec.type is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"option {name} takes true or false, not {text!r}")
    if spec.type is int:
        if not re.fullmatch(r"\s*-?\d+\s*", text):
            raise ValueError(f"option {name} takes a whole number, not {text!r}")
        number = int(text)
        if number < _MINIMUM.get(name, 0):
            raise ValueError(f"option {name} must be at least {_MINIMUM.get(name, 0)}, not {number}")
        return number
    if isinstance(spec.type, tuple):
        low = text.strip().lower()
        if low not in spec.type:
            raise ValueError(f"option {name} takes one of {', '.join(spec.type)}, not {text!r}")
        return low
    _check_text_option(name, text)
    return text


def _check_text_option(name: str, text: str) -> None:
    """Save-time checks of text options whose content has a syntax (placeholders are checked at run time)."""
    if _ENV.search(text):
        return
    if name == "ReplicateStartDate" and text.strip():
        parse_start_date(text)
    elif name in ("PrimaryKey", "IncrementalCheckColumns"):
        name_list(text, option=name)


def name_list(text: str, *, option: str) -> tuple[str, ...]:
    """Split a comma list of column names (``'a, [b c]'``) into unquoted names.

    :raises ValueError: the text is not a list of names
    """
    from airflow_sync.jobs.replicate import split_name_list

    try:
        return split_name_list(text)
    except ReplicateSyntaxError as exc:
        raise ValueError(
            f"option {option} must be a comma-separated list of column names: {exc.reason}"
        ) from exc


def parse_option_list(text: str, *, field: str) -> dict[str, OptionValue]:
    """Parse a job's ``OtherCacheOptions`` (``Name=Value,Name2='a,b',Flag``).

    :param text: the option list; empty means no options
    :param field: wire field name used in the error (``OtherCacheOptions``)
    :raises JobValidationError: unknown option, bad value or bad syntax, naming the position
    """
    from airflow_sync.jobs.replicate import parse_option_assignments

    try:
        return parse_option_assignments(text)
    except ReplicateSyntaxError as exc:
        raise JobValidationError(f"{field}: {exc.reason} (at position {exc.position})", field=field) from exc


def _substitute(value: str, env: Mapping[str, str], where: str) -> str:
    from airflow_sync.jobs.replicate import substitute_env_value

    return substitute_env_value(value, env, where=where)


def build_plan(
    job: Job, stmt: ReplicateStatement, query_id: str, env: dict[str, str] | None = None
) -> ReplicationPlan:
    """Resolve every option of one query into a :class:`ReplicationPlan`.

    Precedence: ``WITH`` > ``OtherCacheOptions`` > job field > default. ``TableNamePrefix`` applies only to an
    implicitly named destination (``REPLICATE [T]``). An explicit destination's schema qualifier
    (``REPLICATE [rpt].[T] SELECT ...``) wins over ``CacheSchema``. With ``env`` (the values set by the PreJob
    event) every ``{env:NAME}`` placeholder in the SELECT and in text options is replaced; a placeholder the
    PreJob did not set is an error. Without ``env`` placeholders are left as they are.

    :param job: the job (an :class:`airflow_sync.jobs.model.Job`)
    :param stmt: one parsed query of the job
    :param query_id: the query's task id
    :param env: PreJob variables, or None when not known (e.g. at DAG parse time)
    :raises JobValidationError: an option value is invalid or a placeholder is not set
    """
    from airflow_sync.jobs.replicate import substitute_env_in_statement

    where = f"query {query_id}"
    other = (
        parse_option_list(job.other_cache_options, field="OtherCacheOptions")
        if job.other_cache_options
        else {}
    )
    job_values: dict[str, Any] = {
        "DropTable": job.drop_table,
        "TruncateTable": job.truncate_table_data,
        "AlterSchema": job.alter_schema,
        "AutoTruncateStrings": job.auto_truncate_strings,
        "SkipDeleted": job.skip_deleted,
        "BatchSize": job.batch_size if job.batch_size and job.batch_size > 0 else None,
        "CommandTimeout": job.command_timeout,
        "CacheSchema": job.cache_schema,
        "TableNamePrefix": job.table_name_prefix,
        "UseGmtDateTime": job.use_gmt_date_time,
        "ReplicateStartDate": job.replicate_start_date,
        "ReplicateInterval": job.replicate_interval,
        "ReplicateIntervalUnit": job.replicate_interval_unit,
    }
    if env is not None:
        stmt = substitute_env_in_statement(stmt, env, where=where)

    def opt(name: str) -> Any:
        for layer in (stmt.options, other, job_values):
            value = layer.get(name)
            if value is not None:
                if isinstance(value, str) and env is not None:
                    value = _substitute(value, env, where)
                return value
        return OPTIONS[name].default

    try:
        start_text = str(opt("ReplicateStartDate") or "")
        start = parse_start_date(start_text) if start_text.strip() else None
        pk_option = name_list(opt("PrimaryKey"), option="PrimaryKey") if opt("PrimaryKey") else ()
        check_columns = (
            name_list(opt("IncrementalCheckColumns"), option="IncrementalCheckColumns")
            if opt("IncrementalCheckColumns")
            else ()
        )
        unit = str(opt("ReplicateIntervalUnit") or "days").lower()
        if unit not in INTERVAL_UNITS:
            raise ValueError(f"ReplicateIntervalUnit takes one of {', '.join(INTERVAL_UNITS)}, not {unit!r}")
    except ValueError as exc:
        raise JobValidationError(f"{where}: {exc}") from exc

    schema = str(opt("CacheSchema") or "") or None
    if stmt.implicit_name:
        destination = str(opt("TableNamePrefix") or "") + stmt.target.name
    else:
        destination = stmt.target.name
        schema = stmt.target.schema or schema
    max_offset, min_offset = int(opt("MaxLastModTimeOffset")), int(opt("MinLastModTimeOffset"))
    interval = opt("ReplicateInterval")
    return ReplicationPlan(
        job_name=job.name,
        query_id=query_id,
        source=stmt.source,
        destination=destination,
        destination_schema=schema,
        select=stmt.select,
        columns=stmt.columns,
        primary_key=stmt.primary_key or pk_option,
        drop_table=bool(opt("DropTable")),
        truncate_table=bool(opt("TruncateTable")),
        alter_schema=bool(opt("AlterSchema")),
        auto_truncate_strings=bool(opt("AutoTruncateStrings")),
        skip_deleted=bool(opt("SkipDeleted")),
        delete_detection="keys" if opt("DeleteDetection") == "keys" else "none",
        batch_size=int(opt("BatchSize")),
        command_timeout=int(opt("CommandTimeout") or 0),
        use_gmt=bool(opt("UseGmtDateTime")),
        replicate_start_date=start,
        replicate_interval=int(interval) if interval else None,
        replicate_interval_unit=unit,  # type: ignore[arg-type]  # checked against INTERVAL_UNITS above
        incremental_check_columns=check_columns,
        # CData's documented auto-correction: a maximum offset below the minimum is raised to it
        max_lastmod_offset=max(max_offset, min_offset),
        min_lastmod_offset=min_offset,
        verbosity=job.verbosity,
        env=dict(env or {}),
    )


__all__ = [
    "ALIASES",
    "OPTIONS",
    "OptionSpec",
    "build_plan",
    "canonical_option_name",
    "coerce_option",
    "parse_option_list",
    "parse_start_date",
]

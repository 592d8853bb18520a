"""The job field table: one row per CData job field (``spec/job-api.md`` §3).

Each :class:`FieldSpec` says how a wire field is named, which :class:`~airflow_sync.jobs.model.Job`
attribute holds it, how a wire value is coerced (CData sends every scalar as a string; JSON types are
accepted too), what the default is, and which extra check applies. Parsing and serialization in
:mod:`airflow_sync.jobs.model` are driven by this table, so adding a field is adding a row.

No Airflow imports: the CLI, the API and the engine-free tests use this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_sync.exceptions import JobValidationError

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
INTERVAL_UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
#: singular spellings people type; stored in the plural form CData uses
_UNIT_ALIASES = {u[:-1]: u for u in INTERVAL_UNITS}

JOB_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
JOB_NAME_MAX = 100
# Practical address syntax (RFC 5322 dot-atom local part, DNS-ish domain); "user@localhost" is allowed
# because local SMTP relays use it. Display names ("Ops <ops@x>") are not accepted: the list is comma-split.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_START_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
)
_START_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
INT_MAX = 2**31 - 1


def _shown(value: Any) -> str:
    """A short repr of a user value for an error message (never long; values here are not secrets)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- coercers: wire value -> attribute value; raise JobValidationError naming the field -----------------


def to_bool(value: Any, wire: str) -> bool:
    """CData boolean: ``true``/``"True"``/``"1"``/``1``/``"yes"`` and the false forms, case-insensitive."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise JobValidationError(
        f"{wire} must be a boolean (True/False, 1/0 or yes/no, any case), got {_shown(value)}", field=wire
    )


def to_int(value: Any, wire: str) -> int:
    """CData integer: ``500`` or ``"500"`` (spaces around allowed); floats and other text are rejected."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    raise JobValidationError(f"{wire} must be a whole number, got {_shown(value)}", field=wire)


def to_str(value: Any, wire: str) -> str:
    """A text field; surrounding whitespace is dropped. Numbers are not silently turned into text."""
    if isinstance(value, str):
        return value.strip()
    raise JobValidationError(f"{wire} must be a string, got {_shown(value)}", field=wire)


def to_opt_int(value: Any, wire: str) -> int | None:
    """An optional integer: ``""`` means not set."""
    if isinstance(value, str) and not value.strip():
        return None
    return to_int(value, wire)


def to_interval_unit(value: Any, wire: str) -> str:
    """``minutes hours days weeks months years``, any case, singular accepted; stored lower-case plural."""
    if isinstance(value, str):
        word = value.strip().lower()
        word = _UNIT_ALIASES.get(word, word)
        if word in INTERVAL_UNITS:
            return word
    raise JobValidationError(
        f"{wire} must be one of {', '.join(INTERVAL_UNITS)}, got {_shown(value)}", field=wire
    )


# --- checks on the coerced value ---------------------------------------------------------------------------


def int_range(lo: int | None, hi: int | None) -> Callable[[Any, str], None]:
    """A check that an int (or None, meaning unset) lies in ``lo..hi``."""

    def check(value: Any, wire: str) -> None:
        if value is None:
            return
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                bounds = f"at least {lo}"
            elif lo is None:
                bounds = f"at most {hi}"
            else:
                bounds = f"between {lo} and {hi}"
            raise JobValidationError(f"{wire} must be {bounds}, got {value}", field=wire)

    return check


def check_job_name(value: str, wire: str) -> None:
    """1-100 chars, ``[A-Za-z0-9_][A-Za-z0-9_.-]*`` (it becomes part of a DAG id and a Variable key)."""
    if not value:
        raise JobValidationError(f"{wire} is required", field=wire)
    if len(value) > JOB_NAME_MAX or not JOB_NAME_RE.fullmatch(value):
        raise JobValidationError(
            f"{wire} must be 1-{JOB_NAME_MAX} characters of letters, digits, '_', '.' or '-', not starting "
            f"with '.' or '-', got {_shown(value)}",
            field=wire,
        )


def check_required(value: str, wire: str) -> None:
    if not value:
        raise JobValidationError(f"{wire} is required (an Airflow connection id)", field=wire)


def check_email_list(value: str, wire: str) -> None:
    """Comma-separated addresses, each syntactically valid (empty is fine here; see the cross-field rule)."""
    if not value:
        return
    bad = [a.strip() for a in value.split(",") if not _EMAIL_RE.fullmatch(a.strip())]
    if bad:
        raise JobValidationError(
            f"{wire} must be comma-separated e-mail addresses; not valid: {', '.join(map(_shown, bad))}",
            field=wire,
        )


def parse_start_date(value: str) -> datetime | None:
    """``yyyy-MM-dd`` optionally followed by `` HH:mm[:ss]`` (or ``T``); None when empty or invalid."""
    if not value or not _START_DATE_RE.fullmatch(value):
        return None
    for fmt in _START_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def check_start_date(value: str, wire: str) -> None:
    if value and parse_start_date(value) is None:
        raise JobValidationError(
            f"{wire} must be a date yyyy-MM-dd, optionally with a time HH:mm or HH:mm:ss "
            f"(e.g. 2024-01-31 or 2024-01-31 08:00:00), got {_shown(value)}",
            field=wire,
        )


def check_cron(value: str, wire: str) -> None:
    if value:
        from airflow_sync.jobs.cron import to_airflow_cron

        to_airflow_cron(value)


def check_event(value: str, wire: str) -> None:
    if value:
        from airflow_sync.jobs.events import parse_event

        parse_event(value, field=wire)


def check_cache_options(value: str, wire: str) -> None:
    if value:
        from airflow_sync.jobs.options import parse_option_list

        parse_option_list(value, field=wire)


@dataclass(frozen=True)
class FieldSpec:
    """One job field.

    :param wire: CData wire name (``BatchSize``)
    :param attr: Job attribute (``batch_size``)
    :param coerce: wire value -> attribute value, raising :class:`JobValidationError`
    :param default: value when absent (None when ``required``)
    :param required: must be present on create
    :param checks: extra checks of the coerced value (value, wire) -> None, raising on error
    """

    wire: str
    attr: str
    coerce: Callable[[Any, str], Any]
    default: Any = None
    required: bool = False
    checks: tuple[Callable[[Any, str], None], ...] = ()

    def to_wire(self, value: Any) -> str:
        """CData's string scalar: ``"True"``/``"False"``, ``"1000"``, ``""`` for None."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)


#: every settable job field, in CData's documented order (spec/job-api.md §3); Query#N is handled apart
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("JobName", "name", to_str, None, required=True, checks=(check_job_name,)),
    FieldSpec("Source", "source", to_str, None, required=True, checks=(check_required,)),
    FieldSpec("Destination", "destination", to_str, None, required=True, checks=(check_required,)),
    FieldSpec("Scheduled", "scheduled", to_bool, False),
    FieldSpec("ScheduledCron", "scheduled_cron", to_str, "", checks=(check_cron,)),
    FieldSpec("NotifyWindowsEvent", "notify_windows_event", to_bool, False),
    FieldSpec("SendEmailNotification", "send_email_notification", to_bool, False),
    FieldSpec("NotifyEmailTo", "notify_email_to", to_str, "", checks=(check_email_list,)),
    FieldSpec("NotifyEmailSubject", "notify_email_subject", to_str, ""),
    FieldSpec("EmailErrorOnly", "email_error_only", to_bool, False),
    FieldSpec("Verbosity", "verbosity", to_int, 2, checks=(int_range(1, 5),)),
    FieldSpec("TableNamePrefix", "table_name_prefix", to_str, ""),
    FieldSpec("UseGmtDateTime", "use_gmt_date_time", to_bool, False),
    FieldSpec("TruncateTableData", "truncate_table_data", to_bool, False),
    FieldSpec("DropTable", "drop_table", to_bool, False),
    FieldSpec("AutoTruncateStrings", "auto_truncate_strings", to_bool, False),
    FieldSpec("ContinueOnError", "continue_on_error", to_bool, True),
    FieldSpec("AlterSchema", "alter_schema", to_bool, True),
    FieldSpec("ReplicateInterval", "replicate_interval", to_opt_int, None, checks=(int_range(1, INT_MAX),)),
    FieldSpec("ReplicateIntervalUnit", "replicate_interval_unit", to_interval_unit, "days"),
    FieldSpec("ReplicateStartDate", "replicate_start_date", to_str, "", checks=(check_start_date,)),
    FieldSpec("BatchSize", "batch_size", to_int, 1000, checks=(int_range(1, 1_000_000),)),
    FieldSpec("CommandTimeout", "command_timeout", to_int, 0, checks=(int_range(0, INT_MAX),)),
    FieldSpec("SkipDeleted", "skip_deleted", to_bool, False),
    FieldSpec("OtherCacheOptions", "other_cache_options", to_str, "", checks=(check_cache_options,)),
    FieldSpec("CacheSchema", "cache_schema", to_str, ""),
    FieldSpec("PreJob", "pre_job", to_str, "", checks=(check_event,)),
    FieldSpec("PostJob", "post_job", to_str, "", checks=(check_event,)),
)

BY_WIRE_LOWER: dict[str, FieldSpec] = {f.wire.lower(): f for f in FIELDS}
BY_ATTR: dict[str, FieldSpec] = {f.attr: f for f in FIELDS}

#: fields a GET returns that a client may PUT back unchanged; they are accepted and ignored on input
#: (JobId and Type are looked at: see Job.from_wire)
READ_ONLY = ("JobId", "Type", "Status", "DagId", "LastRun", "NextRun", "CanUpdate", "CanRemove", "CanExecute")
#: sent by some CData clients in bodies; there is only the default workspace
IGNORED = ("WorkspaceId",)
READ_ONLY_LOWER = {n.lower(): n for n in READ_ONLY + IGNORED}

QUERY_KEY_RE = re.compile(r"query#(\d{1,6})", re.IGNORECASE)

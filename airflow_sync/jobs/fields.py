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
from airflow_sync.jobs import scalars

TRUE_WORDS = frozenset(scalars.BOOL_WORDS_TRUE)
FALSE_WORDS = frozenset(scalars.BOOL_WORDS_FALSE)
INTERVAL_UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
#: singular spellings people type; stored in the plural form CData uses
_UNIT_ALIASES = {u[:-1]: u for u in INTERVAL_UNITS}

JOB_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
JOB_NAME_MAX = 100
#: the JobName as the schema states it (the server trims spaces, tabs and line breaks around it first)
JOB_NAME_PATTERN = r"^[ \t\r\n]*[A-Za-z0-9_][A-Za-z0-9_.-]*[ \t\r\n]*$"
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
INT_MAX = scalars.INT_MAX

# Length limits of the text fields (characters, counted as sent). Each is far above real use and low enough
# that one job cannot bloat its Variable, its DAG or the scheduler: identifiers follow what the databases and
# Airflow allow (connection ids 250, PostgreSQL/MySQL identifiers 63/64), free text stays on one screen.
CONN_ID_MAX = 250  # Airflow's connection.conn_id column (ID_LEN)
CRON_MAX = 100
EMAIL_LIST_MAX = 2000
SUBJECT_MAX = 255  # one header line; RFC 5322 allows 998 but mail clients cut far earlier
PREFIX_MAX = 64  # MySQL's identifier limit (PostgreSQL: 63 bytes); the table name is appended to it
SCHEMA_NAME_MAX = 64
START_DATE_MAX = 32
CACHE_OPTIONS_MAX = 4000
EVENT_MAX = 65_536  # PreJob / PostJob code: SQL scripts, an HTTP call, CData event XML
QUERY_MAX = 65_536  # one REPLICATE statement (a SELECT with many columns stays far below)


def _shown(value: Any) -> str:
    """A short repr of a user value for an error message (never long; values here are not secrets)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- coercers: wire value -> attribute value; raise JobValidationError naming the field -----------------


def to_bool(value: Any, wire: str) -> bool:
    """CData boolean: ``true``/``"True"``/``"1"``/``1``/``"yes"`` and the false forms, case-insensitive."""
    result = scalars.parse_bool(value)
    if result is None:
        raise JobValidationError(
            f"{wire} must be a boolean (True/False, 1/0 or yes/no, any case), got {_shown(value)}", field=wire
        )
    return result


def _to_int(value: Any, wire: str, lo: int = 0, hi: int = INT_MAX) -> int:
    """CData integer in ``lo..hi``: ``500`` or ``"500"`` (spaces around allowed); other text is rejected.

    The range is part of the parse (see :mod:`airflow_sync.jobs.scalars`): the documented pattern of the
    text form only matches numbers inside it.
    """
    result = scalars.parse_int(value, lo, hi)
    if result is not None:
        return result
    number: Any = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _LOOSE_INT.fullmatch(value):
        number = int(value.strip(scalars.WS))
    if number is not None and not lo <= number <= hi:
        raise JobValidationError(f"{wire} must be between {lo} and {hi}, got {number}", field=wire)
    raise JobValidationError(
        f"{wire} must be a whole number (digits, no sign or leading zeros), got {_shown(value)}", field=wire
    )


_LOOSE_INT = re.compile(r"[ \t\r\n]*[+-]?\d{1,18}[ \t\r\n]*")


def int_field(lo: int, hi: int) -> Callable[[Any, str], int]:
    """A coercer for an integer field with the range ``lo..hi``."""

    def to_int(value: Any, wire: str) -> int:
        return _to_int(value, wire, lo, hi)

    coerce = to_int

    coerce.int_range = (lo, hi)  # type: ignore[attr-defined]
    return coerce


def to_str(value: Any, wire: str) -> str:
    """A text field; surrounding spaces, tabs and line breaks are dropped. Numbers are not silently turned
    into text."""
    if isinstance(value, str):
        return value.strip(scalars.WS)
    raise JobValidationError(f"{wire} must be a string, got {_shown(value)}", field=wire)


def opt_int_field(lo: int, hi: int) -> Callable[[Any, str], int | None]:
    """A coercer for an optional integer field (``""`` or blank text means not set)."""

    def to_opt_int(value: Any, wire: str) -> int | None:
        if isinstance(value, str) and not value.strip(scalars.WS):
            return None
        return _to_int(value, wire, lo, hi)

    coerce = to_opt_int

    coerce.int_range = (lo, hi)  # type: ignore[attr-defined]
    coerce.optional = True  # type: ignore[attr-defined]
    return coerce


def to_interval_unit(value: Any, wire: str) -> str:
    """``minutes hours days weeks months years``, any case, singular accepted; stored lower-case plural."""
    if isinstance(value, str):
        word = value.strip(scalars.WS).lower()
        word = _UNIT_ALIASES.get(word, word)
        if word in INTERVAL_UNITS:
            return word
    raise JobValidationError(
        f"{wire} must be one of {', '.join(INTERVAL_UNITS)}, got {_shown(value)}", field=wire
    )


# --- checks on the coerced value ---------------------------------------------------------------------------


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


#: characters that must never reach an e-mail header: C0/C1 controls (CR, LF, TAB ...), DEL, and the Unicode
#: line and paragraph separators some mail libraries fold on
_HEADER_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: the documented pattern of header fields: exactly what is accepted once surrounding whitespace is dropped
HEADER_SAFE = r"^[ \t\r\n]*[^\x00-\x1f\x7f-\x9f\u2028\u2029]*[ \t\r\n]*$"


def check_header_text(value: str, wire: str) -> None:
    """A value that becomes an e-mail header: no control characters (header injection, broken mail)."""
    bad = _HEADER_BAD.search(value or "")
    if bad:
        raise JobValidationError(
            f"{wire} becomes an e-mail header and may not contain control characters such as line breaks "
            f"(found U+{ord(bad.group()):04X} at position {bad.start() + 1})",
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
    :param max_length: text fields: most characters accepted, counted as sent (before trimming)
    :param description: one line for the OpenAPI document
    :param pattern: text fields: the pattern a value must match (documented and checked)
    """

    wire: str
    attr: str
    coerce: Callable[[Any, str], Any]
    default: Any = None
    required: bool = False
    checks: tuple[Callable[[Any, str], None], ...] = ()
    max_length: int | None = None
    description: str = ""
    pattern: str | None = None

    def to_wire(self, value: Any) -> str:
        """CData's string scalar: ``"True"``/``"False"``, ``"1000"``, ``""`` for None."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)

    def parse(self, raw: Any) -> Any:
        """The attribute value of a (non-null) wire value: length limit, coercion, then the checks.

        :raises JobValidationError: naming the field
        """
        if self.max_length is not None and isinstance(raw, str) and len(raw) > self.max_length:
            raise JobValidationError(
                f"{self.wire} is too long: {len(raw)} characters, at most {self.max_length} are allowed",
                field=self.wire,
            )
        value = self.coerce(raw, self.wire)
        for check in self.checks:
            check(value, self.wire)
        return value

    def json_schema(self) -> dict[str, Any]:
        """The field's JSON Schema as the server enforces it (null = the default; required: not null)."""
        nullable = not self.required
        desc = self.description
        if self.coerce is to_bool:
            return scalars.bool_schema(desc, nullable=nullable)
        int_range_ = getattr(self.coerce, "int_range", None)
        if int_range_ is not None:
            lo, hi = int_range_
            schema = scalars.int_schema(lo, hi, desc, nullable=nullable)
            if getattr(self.coerce, "optional", False):  # "" = not set
                schema["anyOf"].insert(2, _BLANK)
            return schema
        if self.coerce is to_interval_unit:
            words = list(INTERVAL_UNITS) + list(_UNIT_ALIASES)
            return scalars.str_schema(
                self.max_length or 16, desc, pattern=scalars.words_pattern(words), nullable=nullable
            )
        return scalars.str_schema(
            self.max_length or 0,
            desc,
            min_length=1 if self.required else 0,
            pattern=self.pattern,
            nullable=nullable,
        )


_BLANK: dict[str, Any] = {"type": "string", "pattern": r"^[ \t\r\n]*$"}
_CONN = "an Airflow connection id (it must exist and be of a type the engine can replicate)"

#: every settable job field, in CData's documented order (spec/job-api.md §3); Query#N is handled apart
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "JobName", "name", to_str, None, required=True, checks=(check_job_name,), max_length=JOB_NAME_MAX,
        pattern=JOB_NAME_PATTERN, description="the key: 1-100 of A-Z a-z 0-9 _ . -, not starting with . or -",
    ),
    FieldSpec(
        "Source", "source", to_str, None, required=True, checks=(check_required,), max_length=CONN_ID_MAX,
        pattern=scalars.NOT_BLANK, description=f"source: {_CONN}",
    ),
    FieldSpec(
        "Destination", "destination", to_str, None, required=True, checks=(check_required,),
        max_length=CONN_ID_MAX, pattern=scalars.NOT_BLANK, description=f"destination: {_CONN}",
    ),
    FieldSpec("Scheduled", "scheduled", to_bool, False, description="run on ScheduledCron"),
    FieldSpec(
        "ScheduledCron", "scheduled_cron", to_str, "", checks=(check_cron,), max_length=CRON_MAX,
        description="5-field cron (CData day-of-week 1-7, 1 = Sunday; ? L #); required when Scheduled",
    ),
    FieldSpec("NotifyWindowsEvent", "notify_windows_event", to_bool, False, description="failures to syslog"),
    FieldSpec("SendEmailNotification", "send_email_notification", to_bool, False, description="e-mail a run"),
    FieldSpec(
        "NotifyEmailTo", "notify_email_to", to_str, "", checks=(check_header_text, check_email_list),
        max_length=EMAIL_LIST_MAX, pattern=HEADER_SAFE,
        description="comma-separated addresses; required when SendEmailNotification",
    ),
    FieldSpec(
        "NotifyEmailSubject", "notify_email_subject", to_str, "", checks=(check_header_text,),
        max_length=SUBJECT_MAX, pattern=HEADER_SAFE, description="e-mail subject; no control characters",
    ),
    FieldSpec("EmailErrorOnly", "email_error_only", to_bool, False, description="e-mail only failed runs"),
    FieldSpec("Verbosity", "verbosity", int_field(1, 5), 2, description="1 Error ... 5 Verbose"),
    FieldSpec("TableNamePrefix", "table_name_prefix", to_str, "", max_length=PREFIX_MAX),
    FieldSpec("UseGmtDateTime", "use_gmt_date_time", to_bool, False),
    FieldSpec("TruncateTableData", "truncate_table_data", to_bool, False),
    FieldSpec("DropTable", "drop_table", to_bool, False),
    FieldSpec("AutoTruncateStrings", "auto_truncate_strings", to_bool, False),
    FieldSpec("ContinueOnError", "continue_on_error", to_bool, True),
    FieldSpec("AlterSchema", "alter_schema", to_bool, True),
    FieldSpec("ReplicateInterval", "replicate_interval", opt_int_field(1, INT_MAX), None),
    FieldSpec(
        "ReplicateIntervalUnit", "replicate_interval_unit", to_interval_unit, "days", max_length=16,
        description="minutes, hours, days, weeks, months or years",
    ),
    FieldSpec(
        "ReplicateStartDate", "replicate_start_date", to_str, "", checks=(check_start_date,),
        max_length=START_DATE_MAX, description="yyyy-MM-dd, optionally with HH:mm[:ss]",
    ),
    FieldSpec("BatchSize", "batch_size", int_field(1, 1_000_000), 1000),
    FieldSpec("CommandTimeout", "command_timeout", int_field(0, INT_MAX), 0, description="seconds; 0 = none"),
    FieldSpec("SkipDeleted", "skip_deleted", to_bool, False),
    FieldSpec(
        "OtherCacheOptions", "other_cache_options", to_str, "", checks=(check_cache_options,),
        max_length=CACHE_OPTIONS_MAX, description="Name=Value,... REPLICATE options for every query",
    ),
    FieldSpec("CacheSchema", "cache_schema", to_str, "", max_length=SCHEMA_NAME_MAX),
    FieldSpec(
        "PreJob", "pre_job", to_str, "", checks=(check_event,), max_length=EVENT_MAX,
        description="sql: ..., http: METHOD conn endpoint, python: module:function, or CData event XML",
    ),
    FieldSpec("PostJob", "post_job", to_str, "", checks=(check_event,), max_length=EVENT_MAX),
)  # fmt: skip

BY_WIRE_LOWER: dict[str, FieldSpec] = {f.wire.lower(): f for f in FIELDS}
BY_ATTR: dict[str, FieldSpec] = {f.attr: f for f in FIELDS}

#: fields a GET returns that a client may PUT back unchanged; they are accepted and ignored on input
#: (JobId and Type are looked at: see Job.from_wire)
READ_ONLY = (
    "JobId", "Type", "Status", "DagId", "LastRun", "NextRun", "CanUpdate", "CanRemove", "CanExecute",
    "Version",
)  # fmt: skip
#: sent by some CData clients in bodies; there is only the default workspace
IGNORED = ("WorkspaceId",)
READ_ONLY_LOWER = {n.lower(): n for n in READ_ONLY + IGNORED}

QUERY_KEY_RE = re.compile(r"query#(\d{1,6})", re.IGNORECASE)

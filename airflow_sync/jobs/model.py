"""The Job: one CData Sync-style replication job, its validation and its three serial forms.

* wire — the CData Job Management API body/entity (``spec/job-api.md`` §3): case-insensitive field names on
  input, every scalar as a string on output, queries as ``Query#1..Query#n``;
* store — the normalized JSON kept in the job's Airflow Variable (design D3), with a ``version`` hash;
* Python — the frozen :class:`Job` dataclass every other module codes against.

Parsing and serialization are driven by the field table in :mod:`airflow_sync.jobs.fields`. All problems of
a body are collected and raised together as one :class:`~airflow_sync.exceptions.JobValidationErrors`.

Decisions (where CData leaves it open):

* ``Query#N`` numbers must run 1..n without gaps or duplicates (``query#2`` and ``Query#2`` are the same
  number); they are kept in order of N. A job without queries is allowed: its DAG is pre_job -> post_job.
* ``Queries`` (a list) is not a field: 400 with a hint to use ``Query#N``.
* Read-only fields of a GET (``JobId``, ``Type``, ``Status``, ``DagId``, ``LastRun``, ``NextRun``,
  ``Can*``) and ``WorkspaceId`` are accepted so a GET response can be PUT back; ``JobId`` becomes the id of a
  new job when it is a UUID, ``Type`` must be ``Standard`` (the only job type implemented) when given.
* A JSON ``null`` means "the default" (on modify: reset to the default).

No Airflow imports at module level: the CLI, the API and the engine-free tests import this.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_sync.exceptions import JobValidationError, JobValidationErrors
from airflow_sync.jobs.fields import BY_WIRE_LOWER, FIELDS, QUERY_KEY_RE, QUERY_MAX, READ_ONLY_LOWER
from airflow_sync.jobs.scalars import WS

if TYPE_CHECKING:
    from airflow_sync.jobs.statement import ReplicateStatement

#: the JobId a create body may carry (the canonical UUID text, any case)
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
UUID_PATTERN = (
    r"^[ \t\r\n]*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}[ \t\r\n]*$"
)

#: store format version (bump when the stored JSON shape changes incompatibly)
STORE_FORMAT = 1
#: Airflow's task-id length limit (airflow.models.taskinstance ID_LEN)
TASK_ID_MAX = 250
TASK_ID_PREFIX = "replicate_"
#: connection types the engine has a dialect for; anything else must be flagged ``dbapi:``/``generic:``
SUPPORTED_CONN_TYPES = frozenset({"sqlite", "postgres", "postgresql", "mysql", "mariadb"})
_GENERIC_MARKERS = ("dbapi:", "generic:")


@dataclass(frozen=True)
class Job:
    """A replication job: build it with :meth:`from_wire` (validates) or :meth:`from_store` (trusted).

    Attributes mirror the wire fields of ``spec/job-api.md`` §3 (see :data:`airflow_sync.jobs.fields.FIELDS`).
    """

    name: str
    source: str
    destination: str
    queries: tuple[str, ...]
    job_id: str
    scheduled: bool = False
    scheduled_cron: str = ""
    notify_windows_event: bool = False
    send_email_notification: bool = False
    notify_email_to: str = ""
    notify_email_subject: str = ""
    email_error_only: bool = False
    verbosity: int = 2
    table_name_prefix: str = ""
    use_gmt_date_time: bool = False
    truncate_table_data: bool = False
    drop_table: bool = False
    auto_truncate_strings: bool = False
    continue_on_error: bool = True
    alter_schema: bool = True
    replicate_interval: int | None = None
    replicate_interval_unit: str = "days"
    replicate_start_date: str = ""
    batch_size: int = 1000
    command_timeout: int = 0
    skip_deleted: bool = False
    other_cache_options: str = ""
    cache_schema: str = ""
    pre_job: str = ""
    post_job: str = ""
    #: one TaskId per query (see :mod:`airflow_sync.jobs.task_ids`); identity, not content: not part of
    #: the version nor of equality
    task_ids: tuple[str, ...] = field(default=(), compare=False)
    #: when the schedule last changed (ISO-8601 UTC, set by the store; "" = never): the job's DAG starts
    #: just after it, so a new, enabled or changed schedule starts no run before its next tick
    #: (:mod:`airflow_sync.dags.schedule`). Bookkeeping, not content: not in the version, the wire or equality
    schedule_since: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.queries, tuple):  # a list from a caller; keep the dataclass hashable
            object.__setattr__(self, "queries", tuple(self.queries))
        if len(self.task_ids) != len(self.queries):
            from airflow_sync.jobs.task_ids import derived_task_ids

            object.__setattr__(self, "task_ids", derived_task_ids(self.job_id, self.queries))
        elif not isinstance(self.task_ids, tuple):
            object.__setattr__(self, "task_ids", tuple(self.task_ids))

    # --- wire ------------------------------------------------------------------------------------------

    @classmethod
    def from_wire(cls, body: Mapping[str, Any], *, job_id: str | None = None) -> Job:
        """Validate a create body (everything except that the connections exist) and build the job.

        :param body: the CData job entity/body; field names case-insensitive, scalars as strings or JSON
        :param job_id: the job's id; default: the body's ``JobId`` when it is a UUID, else a new UUID4
        :raises JobValidationErrors: listing every problem of the body
        """
        parsed = _parse_body(body)
        errors = parsed.errors
        values: dict[str, Any] = {}
        for spec in FIELDS:
            value = parsed.values.get(spec.attr)
            if value is None:
                if spec.required:
                    if spec.attr not in parsed.failed:
                        errors.append(JobValidationError(f"{spec.wire} is required", field=spec.wire))
                    continue
                value = spec.default
            values[spec.attr] = value
        resolved_id = job_id or _job_id_from_body(parsed.meta, errors) or str(uuid.uuid4())
        _check_type(parsed.meta, errors)
        job = _build(values, parsed.queries or (), resolved_id, errors, parsed.statements)
        from airflow_sync.jobs.task_ids import new_task_id

        return _with_task_ids(job, tuple(new_task_id() for _ in job.queries))

    def patched(self, body: Mapping[str, Any]) -> Job:
        """The job modified by a PUT body: only sent fields change; any ``Query#N`` replaces all queries.

        :raises JobValidationErrors: listing every problem (``JobName`` may be sent only unchanged)
        """
        parsed = _parse_body(body)
        errors = parsed.errors
        skip = ("queries", "job_id", "task_ids", "schedule_since")
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        sent_name = parsed.values.pop("name", None)
        if "name" in parsed.sent and sent_name != self.name:
            errors.append(
                JobValidationError(
                    f"JobName cannot be changed (this job is {self.name!r}); create a job with the new name "
                    "and delete this one instead",
                    field="JobName",
                )
            )
        for spec in FIELDS:
            if spec.attr in parsed.values and spec.attr != "name":
                value = parsed.values[spec.attr]
                if value is None and spec.required:
                    errors.append(JobValidationError(f"{spec.wire} cannot be empty", field=spec.wire))
                    continue
                values[spec.attr] = spec.default if value is None else value
        if parsed.queries is None:
            queries, statements = self.queries, self.__dict__.get("statements")
            task_ids = self.task_ids
        else:
            queries, statements = parsed.queries, parsed.statements
            task_ids = ()
        job = _build(values, queries, self.job_id, errors, statements, task_ids)
        if parsed.queries is not None:  # a replaced list keeps the ids of the queries it still has
            from airflow_sync.jobs.replicate import normalize_query_text
            from airflow_sync.jobs.task_ids import carried_task_ids

            ids = carried_task_ids(self.queries, self.task_ids, job.queries, normalize_query_text)
            job = _with_task_ids(job, ids)
        return job.since(self.schedule_since)

    def with_tasks(self, tasks: Sequence[tuple[str, str]]) -> Job:
        """This job with its query list replaced by ``tasks`` — ``(task_id, query)`` pairs, in order —
        validated as a ``PUT`` of ``Query#1..n`` is (the tasks API edits a job this way).

        :raises JobValidationErrors: naming the ``Query#N`` that does not parse
        """
        if not tasks:
            return dataclasses.replace(self, queries=(), task_ids=())
        job = self.patched({f"Query#{n}": query for n, (_, query) in enumerate(tasks, start=1)})
        return _with_task_ids(job, tuple(task_id for task_id, _ in tasks))

    def to_wire(self) -> dict[str, Any]:
        """The CData entity: ``JobId``, every field as a string scalar, ``Type``, ``Query#1..n``.

        The API adds ``Status``/``DagId``/``LastRun``/``NextRun``/``Can*``.
        """
        out: dict[str, Any] = {"JobId": self.job_id}
        for spec in FIELDS:
            out[spec.wire] = spec.to_wire(getattr(self, spec.attr))
        out["Type"] = "Standard"
        for n, query in enumerate(self.queries, start=1):
            out[f"Query#{n}"] = query
        return out

    @cached_property
    def wire(self) -> Mapping[str, Any]:
        """:meth:`to_wire`, computed once per Job object (read-only: copy it to change it)."""
        return MappingProxyType(self.to_wire())

    # --- store -----------------------------------------------------------------------------------------

    def _content(self) -> dict[str, Any]:
        data: dict[str, Any] = {spec.attr: getattr(self, spec.attr) for spec in FIELDS}
        data["queries"] = list(self.queries)
        return data

    @cached_property
    def version(self) -> str:
        """First 16 hex digits of the sha256 of the canonical JSON of the content (``job_id`` excluded)."""
        canonical = json.dumps(self._content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def to_store(self) -> dict[str, Any]:
        """The normalized JSON kept in the job's Variable: content, ``job_id``, ``version``, ``format``."""
        return {
            "format": STORE_FORMAT,
            "job_id": self.job_id,
            **self._content(),
            "task_ids": list(self.task_ids),
            "schedule_since": self.schedule_since,
            "version": self.version,
        }

    @classmethod
    def from_store(cls, data: Mapping[str, Any]) -> Job:
        """Rebuild a job from :meth:`to_store` output (lossless).

        The store holds validated jobs, so only value types are checked here (a hand-edited Variable with
        ``"batch_size": "500"`` still loads; garbage raises); cross-field rules and query parsing are not
        re-run (the DAG factory loads every job on every DAG-file parse). Keys missing from an older record
        take their defaults; unknown keys are ignored.

        :raises JobValidationError: the record is not a job record
        """
        try:
            kwargs: dict[str, Any] = {}
            for spec in FIELDS:
                value = data.get(spec.attr, spec.default)
                kwargs[spec.attr] = value if value is None else spec.coerce(value, spec.wire)
            queries = data.get("queries") or ()
            if isinstance(queries, str) or not all(isinstance(q, str) for q in queries):
                raise TypeError("queries must be a list of strings")
            from airflow_sync.jobs.task_ids import valid_ids

            task_ids = valid_ids(data.get("task_ids"), len(queries)) or ()  # () = derived (older records)
            since = data.get("schedule_since") or ""
            if not isinstance(since, str):
                raise TypeError("schedule_since must be a string")
            return cls(
                job_id=str(data["job_id"]),
                queries=tuple(queries),
                task_ids=task_ids,
                schedule_since=since,
                **kwargs,
            )
        except (KeyError, TypeError, AttributeError, JobValidationError) as exc:
            detail = exc.message if isinstance(exc, JobValidationError) else f"{type(exc).__name__}: {exc}"
            raise JobValidationError(f"stored job record is malformed: {detail}") from exc

    def since(self, schedule_since: str) -> Job:
        """This job with another :attr:`schedule_since` (the store stamps it; parsed statements kept)."""
        if schedule_since == self.schedule_since:
            return self
        out = dataclasses.replace(self, schedule_since=schedule_since)
        if "statements" in self.__dict__:
            out.__dict__["statements"] = self.__dict__["statements"]
        return out

    # --- derived ---------------------------------------------------------------------------------------

    @cached_property
    def statements(self) -> tuple[ReplicateStatement, ...]:
        """The parsed queries, in order (parsed once per Job object)."""
        from airflow_sync.jobs.replicate import parse_replicate

        return tuple(parse_replicate(q, query_number=n) for n, q in enumerate(self.queries, start=1))

    def dag_id(self, prefix: str | None = None) -> str:
        """``<dag_id_prefix><JobName>``; prefix default: the ``[airflow_sync] dag_id_prefix`` option."""
        if prefix is None:
            from airflow_sync import settings

            prefix = settings.get_str("dag_id_prefix")
        return f"{prefix}{self.name}"

    def query_task_ids(self) -> tuple[str, ...]:
        """One Airflow task id per query, in job order: ``replicate_<destination table>``.

        Derived from the destination table name as written (without ``TableNamePrefix``, so changing the
        prefix keeps task ids and their history), characters outside ``[A-Za-z0-9_]`` replaced by ``_``,
        long names shortened with a hash to stay unique within Airflow's 250-character limit, and repeated
        names (compared case-insensitively) suffixed ``_2``, ``_3``... in job order.
        """
        return make_task_ids(stmt.target.name for stmt in self.statements)

    @cached_property
    def schedule(self) -> str | None:
        """The Airflow cron string when the job is scheduled, else None (translated once per Job object)."""
        if not self.scheduled or not self.scheduled_cron:
            return None
        from airflow_sync.jobs.cron import to_airflow_cron

        return to_airflow_cron(self.scheduled_cron)

    @property
    def notify_email_recipients(self) -> tuple[str, ...]:
        """``NotifyEmailTo`` split into addresses (validated on save)."""
        return tuple(a.strip() for a in self.notify_email_to.split(",") if a.strip())


# --- task ids ----------------------------------------------------------------------------------------------

_ROOM_FOR_SUFFIX = 8  # "_" + up to 7 digits of a duplicate counter


def _task_id_base(table: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", table) or "_"
    base = TASK_ID_PREFIX + clean
    limit = TASK_ID_MAX - _ROOM_FOR_SUFFIX
    if len(base) > limit:
        # keep the readable start, plus a hash of the full name so two long names sharing a start differ
        digest = hashlib.sha256(table.encode("utf-8")).hexdigest()[:10]
        base = f"{base[: limit - len(digest) - 1]}_{digest}"
    return base


def make_task_ids(tables: Any) -> tuple[str, ...]:
    """Unique task ids for destination table names (see :meth:`Job.query_task_ids`)."""
    out: list[str] = []
    taken: set[str] = set()
    for table in tables:
        base = _task_id_base(table)
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate.lower())
        out.append(candidate)
    return tuple(out)


# --- body parsing ------------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    values: dict[str, Any]  # attr -> coerced value (None = JSON null = default)
    sent: set[str]  # attrs present in the body
    failed: set[str]  # attrs present but invalid
    queries: tuple[str, ...] | None  # None when no Query#N was sent
    statements: tuple[Any, ...] | None  # parsed queries when every query parsed
    meta: dict[str, Any]  # read-only fields that matter (JobId, Type)
    errors: list[JobValidationError]


def _known_names() -> list[str]:
    return [f.wire for f in FIELDS] + ["Query#1"]


def _unknown_field_error(keys: list[str]) -> JobValidationError:
    known = {n.lower(): n for n in _known_names()}
    parts = []
    for key in keys[:5]:  # a body of thousands of unknown keys gets a short message, fast
        match = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=0.6)
        parts.append(f"{key!r} (did you mean {known[match[0]]!r}?)" if match else repr(key))
    noun = "field" if len(keys) == 1 else "fields"
    if len(keys) > 5:
        parts.append(f"and {len(keys) - 5} more")
    return JobValidationError(
        f"Unknown {noun}: {', '.join(parts)}. Fields are the CData job fields "
        f"({', '.join(f.wire for f in FIELDS)}) and Query#1..Query#n",
        field=keys[0],
    )


def _parse_body(body: Mapping[str, Any]) -> _Parsed:
    parsed = _Parsed({}, set(), set(), None, None, {}, [])
    errors = parsed.errors
    if not isinstance(body, Mapping):
        errors.append(JobValidationError("The job body must be a JSON object of job fields"))
        return parsed
    seen: dict[str, str] = {}  # lower-case name -> key as sent (duplicates that differ only in case)
    raw_queries: dict[int, Any] = {}
    unknown: list[str] = []
    for key, raw in body.items():
        if not isinstance(key, str):
            unknown.append(repr(key))
            continue
        lower = key.strip().lower()
        qmatch = QUERY_KEY_RE.fullmatch(lower)
        canon = f"query#{int(qmatch.group(1))}" if qmatch else lower
        spec = BY_WIRE_LOWER.get(lower)
        if canon in seen:
            name = spec.wire if spec else f"Query#{int(qmatch.group(1))}" if qmatch else key
            message = f"{name} is given twice (as {seen[canon]!r} and {key!r})"
            errors.append(JobValidationError(message, field=name))
            continue
        seen[canon] = key
        if spec is not None:
            parsed.sent.add(spec.attr)
            if raw is None:
                parsed.values[spec.attr] = None
                continue
            try:
                value = spec.parse(raw)
            except JobValidationError as exc:
                errors.append(exc)
                parsed.failed.add(spec.attr)
                continue
            parsed.values[spec.attr] = value
        elif qmatch:
            raw_queries[int(qmatch.group(1))] = raw
        elif lower == "queries":
            errors.append(
                JobValidationError(
                    f"{key} is not a field: send the queries as separate fields Query#1, Query#2, ... "
                    '(e.g. {"Query#1": "REPLICATE [Orders]"})',
                    field=key,
                )
            )
        elif lower in READ_ONLY_LOWER:
            if isinstance(raw, list | dict):  # a GET sends scalars only; a nested value is a mistake
                name = READ_ONLY_LOWER[lower]
                errors.append(
                    JobValidationError(f"{name} must be a single value, not a list or object", field=name)
                )
                continue
            parsed.meta[READ_ONLY_LOWER[lower]] = raw
        else:
            unknown.append(key)
    if unknown:
        errors.append(_unknown_field_error(unknown))
    if raw_queries:
        parsed.queries, parsed.statements = _parse_queries(raw_queries, errors)
    return parsed


def _listed(names: list[str], most: int = 5) -> str:
    """``a, b, c`` — at most ``most`` names, then how many more (a message must stay short)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def max_queries() -> int:
    """``[airflow_sync] max_queries_per_job``: the most queries (tasks) one job may have."""
    import sys

    from airflow_sync import settings

    if "airflow.configuration" in sys.modules:  # never import Airflow from the model just for this
        return settings.get_int("max_queries_per_job")
    return int(settings.OPTIONS["max_queries_per_job"][1])


def _parse_queries(
    raw: dict[int, Any], errors: list[JobValidationError]
) -> tuple[tuple[str, ...], tuple[Any, ...] | None]:
    numbers = sorted(raw)
    limit = max_queries()
    if len(numbers) > limit:
        # refused before anything is parsed: 10,000 statements would cost seconds, and as a DAG of
        # 10,000 tasks the dag-processor would parse it on every loop
        errors.append(
            JobValidationError(
                f"A job may have at most {limit} queries ([airflow_sync] max_queries_per_job), this one has "
                f"{len(numbers)}; split it into several jobs",
                field=f"Query#{limit + 1}",
            )
        )
        return tuple(str(raw[n]) for n in numbers), None
    expected = list(range(1, len(numbers) + 1))
    if numbers != expected:
        missing: list[int] = []
        for n in range(1, numbers[-1] + 1):  # the first few only: a number may be 999999
            if n not in raw:
                missing.append(n)
                if len(missing) == 5:
                    break
        n_missing = numbers[-1] - sum(1 for n in numbers if n >= 1)
        detail = "they must start at 1"
        if missing:
            more = f" and {n_missing - len(missing)} more" if n_missing > len(missing) else ""
            detail = f"missing {', '.join(f'Query#{n}' for n in missing)}{more}"
        errors.append(
            JobValidationError(
                f"Query numbers must run from Query#1 to Query#n without gaps: got "
                f"{_listed([f'Query#{n}' for n in numbers])} ({detail})",
                field=f"Query#{(missing or numbers)[0]}",
            )
        )
    texts: list[str] = []
    ok = True
    for n in numbers:
        value = raw[n]
        field = f"Query#{n}"
        if isinstance(value, str) and len(value) > QUERY_MAX:
            errors.append(
                JobValidationError(
                    f"{field} is too long: {len(value)} characters, at most {QUERY_MAX} are allowed",
                    field=field,
                )
            )
            ok = False
            texts.append("")
            continue
        if not isinstance(value, str) or not value.strip(WS):
            errors.append(JobValidationError(f"{field} must be a non-empty REPLICATE statement", field=field))
            ok = False
            texts.append("" if not isinstance(value, str) else value)
            continue
        texts.append(value.strip(WS))
    statements = _parse_statements(texts, errors) if ok else None
    return tuple(texts), statements


def _parse_statements(texts: list[str], errors: list[JobValidationError]) -> tuple[Any, ...] | None:
    from airflow_sync.jobs.replicate import parse_replicate

    out = []
    for n, text in enumerate(texts, start=1):
        try:
            out.append(parse_replicate(text, query_number=n))
        except JobValidationError as exc:
            errors.append(exc)
    return tuple(out) if len(out) == len(texts) else None


def _job_id_from_body(meta: dict[str, Any], errors: list[JobValidationError]) -> str | None:
    raw = meta.get("JobId")
    if raw is None or (isinstance(raw, str) and not raw.strip(WS)):
        return None
    if isinstance(raw, str) and UUID_RE.fullmatch(raw.strip(WS)):
        return str(uuid.UUID(raw.strip(WS)))
    errors.append(
        JobValidationError(
            f"JobId must be a UUID (8-4-4-4-12 hex digits) or left out, got {raw!r:.60}", field="JobId"
        )
    )
    return None


def _check_type(meta: dict[str, Any], errors: list[JobValidationError]) -> None:
    raw = meta.get("Type")
    if raw is None or (isinstance(raw, str) and raw.strip(WS).lower() in ("", "standard", "1")) or raw == 1:
        return
    errors.append(
        JobValidationError(
            f"Type {raw!r} is not supported: only Standard jobs (a list of REPLICATE queries) exist here",
            field="Type",
        )
    )


def _cross_field_errors(values: dict[str, Any], reported: set[str | None]) -> list[JobValidationError]:
    errors = []
    # a cron that was given but is invalid is already reported: "required" would mislead
    if values["scheduled"] and not values["scheduled_cron"] and "ScheduledCron" not in reported:
        errors.append(
            JobValidationError(
                "ScheduledCron is required when Scheduled is True (5 fields: minute hour day-of-month month "
                "day-of-week, e.g. '0 2 * * *')",
                field="ScheduledCron",
            )
        )
    if values["send_email_notification"] and not values["notify_email_to"]:
        errors.append(
            JobValidationError(
                "NotifyEmailTo is required when SendEmailNotification is True (comma-separated addresses)",
                field="NotifyEmailTo",
            )
        )
    return errors


def _with_task_ids(job: Job, task_ids: tuple[str, ...]) -> Job:
    """``job`` with other TaskIds, keeping its parsed statements."""
    out = dataclasses.replace(job, task_ids=task_ids)
    if "statements" in job.__dict__:
        out.__dict__["statements"] = job.__dict__["statements"]
    return out


def _build(
    values: dict[str, Any],
    queries: tuple[str, ...],
    job_id: str,
    errors: list[JobValidationError],
    statements: tuple[Any, ...] | None,
    task_ids: tuple[str, ...] = (),
) -> Job:
    if len(values) == len(FIELDS):  # a required field missing is already reported
        errors.extend(_cross_field_errors(values, {e.field for e in errors}))
    if errors:
        raise JobValidationErrors(errors)
    job = Job(queries=queries, job_id=job_id, task_ids=task_ids, **values)
    if statements is not None:  # already parsed while validating: don't parse twice
        job.__dict__["statements"] = statements
    return job


# --- connections -------------------------------------------------------------------------------------------


def validate_connections(job: Job, lookup: Callable[[str], str | None]) -> None:
    """Check that Source and Destination are Airflow connections of a supported type.

    :param lookup: conn_id -> connection type (``postgres``...), ``dbapi:<type>``/``generic:<type>`` for any
        type whose hook is a DbApiHook, or None when the connection does not exist
    :raises JobValidationErrors: naming ``Source`` and/or ``Destination``
    """
    errors = []
    for wire, conn_id in (("Source", job.source), ("Destination", job.destination)):
        conn_type = lookup(conn_id)
        if conn_type is None:
            errors.append(
                JobValidationError(f"{wire}: Airflow connection {conn_id!r} does not exist", field=wire)
            )
        elif conn_type.lower() not in SUPPORTED_CONN_TYPES and not conn_type.lower().startswith(
            _GENERIC_MARKERS
        ):
            errors.append(
                JobValidationError(
                    f"{wire}: connection {conn_id!r} has type {conn_type!r}, which cannot be replicated; "
                    f"supported: {', '.join(sorted(SUPPORTED_CONN_TYPES))} or any SQL (DbApiHook) connection",
                    field=wire,
                )
            )
    if errors:
        raise JobValidationErrors(errors)

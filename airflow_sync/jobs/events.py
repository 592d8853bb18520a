"""PreJob / PostJob code (``spec/job-api.md`` §6): parse and validate on save, typed for the DAG factory.

Accepted forms (the first line decides):

* ``sql:`` followed by SQL statements (split on ``;`` outside quotes and comments) -> :class:`SqlEvent`;
* ``http: <METHOD> <conn_id> <endpoint>`` -> :class:`HttpEvent`;
* ``python: <module.path>:<function>`` -> :class:`PythonEvent` (nothing is imported here; the callable must
  match ``[airflow_sync] python_event_allowlist``, empty by default, so ``python:`` is off until an
  administrator lists what may run);
* the CData APIScript subset: ``<api:set attr="CancelJob" value="true"/>``,
  ``<api:set attr="out.env:NAME" value="..."/>``, ``<api:call op="sendEmail">`` (inputs ``To``, ``Subject``,
  ``Message``) and ``<api:call op="executeJob">`` (input ``JobName``); ``api:script``, ``api:info`` and
  ``api:push`` are accepted as the wrappers CData's templates contain -> :class:`CDataEvent`.

XML is parsed with the standard library after rejecting any DOCTYPE (so no entity can be declared or
expanded). APIScript formatters (``[...]``) are not evaluated, so values containing them are rejected on save
rather than failing at run time. Values that become e-mail headers (``sendEmail``'s ``To`` and ``Subject``)
may not contain control characters. :func:`check_event_links` checks, when a job is saved, that every
``executeJob`` names an existing job and that no chain of ``executeJob`` events comes back to its start.
No Airflow imports.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.fields import FALSE_WORDS, JOB_NAME_RE, TRUE_WORDS, check_email_list, check_header_text

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: where an administrator lists the callables ``python:`` events may run
ALLOWLIST_SETTING = "[airflow_sync] python_event_allowlist"
EVENT_FIELDS = ("PreJob", "PostJob")
_API_NS = "http://apiscript.com/ns?v1"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PYTHON_RE = re.compile(rf"({_IDENT}(?:\.{_IDENT})*):({_IDENT})")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORMS = (
    "'sql: <statements>', 'http: <GET|POST|PUT|PATCH|DELETE> <conn_id> <endpoint>', "
    "'python: <module.path>:<function>', or CData event XML using <api:set attr=\"CancelJob\"/"
    '"out.env:NAME">, <api:call op="sendEmail"> or <api:call op="executeJob">'
)


@dataclass(frozen=True)
class SqlEvent:
    """SQL run on the destination connection in one transaction."""

    statements: tuple[str, ...]


@dataclass(frozen=True)
class HttpEvent:
    """A call to an Airflow HTTP connection with the run summary as JSON body."""

    method: str
    conn_id: str
    endpoint: str


@dataclass(frozen=True)
class PythonEvent:
    """An importable, already deployed function ``module:function`` (imported only when run)."""

    module: str
    function: str


@dataclass(frozen=True)
class SendEmail:
    """One ``<api:call op="sendEmail">``."""

    to: tuple[str, ...]
    subject: str = ""
    message: str = ""


@dataclass(frozen=True)
class CDataEvent:
    """The supported subset of a CData APIScript event."""

    cancel_job: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    send_emails: tuple[SendEmail, ...] = ()
    execute_jobs: tuple[str, ...] = ()


Event = SqlEvent | HttpEvent | PythonEvent | CDataEvent


def _fail(field_name: str, message: str) -> JobValidationError:
    return JobValidationError(f"{field_name}: {message}", field=field_name)


def parse_event(text: str, *, field: str) -> Event | None:
    """Parse ``PreJob``/``PostJob`` code.

    :param text: the field value; empty or whitespace -> None
    :param field: wire field name used in errors (``PreJob`` / ``PostJob``)
    :raises JobValidationError: naming ``field`` and the accepted forms
    """
    if not isinstance(text, str):
        raise _fail(field, f"must be text in one of the forms {_FORMS}")
    body = text.strip()
    if not body:
        return None
    head = body.split(":", 1)[0].strip().lower() if ":" in body.splitlines()[0] else ""
    if head == "sql":
        return _sql(body.split(":", 1)[1], field)
    if head == "http":
        return _http(body.split(":", 1)[1], field)
    if head == "python":
        return _python(body.split(":", 1)[1], field)
    if body.startswith("<"):
        return _cdata(body, field)
    raise _fail(field, f"unrecognised code; use one of {_FORMS}")


# --- sql ---------------------------------------------------------------------------------------------------


def split_sql(text: str) -> tuple[str, ...]:
    """Split SQL on ``;`` outside quotes ('..', "..", `..`), comments and Postgres dollar quotes."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:  # doubled quote = escaped quote
                        end += 2
                        continue
                    break
                end += 2 if text[end] == "\\" and ch != "`" else 1
            buf.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            buf.append(text[i:end])
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            buf.append(text[i:end])
            i = end
        elif ch == "$" and (m := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])):
            tag = m.group(0)
            end = text.find(tag, i + len(tag))
            end = n if end < 0 else end + len(tag)
            buf.append(text[i:end])
            i = end
        elif ch == ";":
            out.append("".join(buf))
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    out.append("".join(buf))
    return tuple(s.strip() for s in out if _has_code(s))


def _has_code(stmt: str) -> bool:
    bare = re.sub(r"--[^\n]*|/\*.*?(\*/|$)", "", stmt, flags=re.S)
    return bool(bare.strip())


def _sql(rest: str, field_name: str) -> SqlEvent:
    statements = split_sql(rest)
    if not statements:
        raise _fail(field_name, "'sql:' must be followed by at least one SQL statement")
    return SqlEvent(statements)


# --- http / python -----------------------------------------------------------------------------------------


def _http(rest: str, field_name: str) -> HttpEvent:
    parts = rest.split()
    if len(parts) != 3 or "\n" in rest.strip():
        raise _fail(field_name, f"write 'http: <METHOD> <conn_id> <endpoint>' on one line, got 'http:{rest}'")
    method, conn_id, endpoint = parts
    if method.upper() not in HTTP_METHODS:
        raise _fail(field_name, f"HTTP method must be one of {', '.join(HTTP_METHODS)}, got {method!r}")
    return HttpEvent(method.upper(), conn_id, endpoint)


def _python(rest: str, field_name: str) -> PythonEvent:
    target = rest.strip()
    m = _PYTHON_RE.fullmatch(target)
    if not m:
        raise _fail(
            field_name, f"write 'python: package.module:function' (dotted identifiers), got {target!r}"
        )
    event = PythonEvent(m.group(1), m.group(2))
    check_python_allowed(event, field=field_name)
    return event


def python_allowlist() -> tuple[str, ...]:
    """The ``module:function`` patterns of :data:`ALLOWLIST_SETTING` (comma or whitespace separated)."""
    from airflow_sync import settings

    raw = settings.get_str("python_event_allowlist")
    return tuple(p for p in re.split(r"[\s,]+", raw) if p)


def check_python_allowed(event: PythonEvent, *, field: str, allowlist: Iterable[str] | None = None) -> None:
    """Refuse a ``python:`` callable the allow-list does not name (nothing is imported).

    Patterns are shell-style (``fnmatch``, case-sensitive) on ``module.path:function``:
    ``mycompany.sync_hooks:*`` allows every function of that module.

    :raises JobValidationError: naming ``field`` and :data:`ALLOWLIST_SETTING`
    """
    patterns = tuple(python_allowlist() if allowlist is None else allowlist)
    target = f"{event.module}:{event.function}"
    if not patterns:
        raise _fail(
            field,
            f"python: events are disabled because {ALLOWLIST_SETTING} is empty; an administrator must list "
            f"the callables that may run there (e.g. 'mycompany.sync_hooks:*') before {target} can be used",
        )
    if not any(fnmatchcase(target, p) for p in patterns):
        raise _fail(
            field,
            f"python: {target} is not allowed by {ALLOWLIST_SETTING} ({', '.join(patterns)}); ask an "
            "administrator to add it",
        )


# --- CData APIScript subset --------------------------------------------------------------------------------


def _tag(el: ET.Element) -> str:
    return el.tag.split("}", 1)[1] if el.tag.startswith(f"{{{_API_NS}}}") else el.tag


def _literal(value: str, field_name: str, what: str) -> str:
    if re.search(r"(?<!\\)\[", value):
        raise _fail(
            field_name,
            f"{what}: APIScript formatters like '[...]' are not evaluated here; use a literal value",
        )
    return value.replace("\\[", "[").replace("\\]", "]")


def _cdata(body: str, field_name: str) -> CDataEvent:
    if re.search(r"<!DOCTYPE|<!ENTITY", body, re.IGNORECASE):
        raise _fail(field_name, "DOCTYPE and ENTITY declarations are not allowed in event XML")
    body = re.sub(r"^<\?xml[^>]*\?>", "", body).strip()
    try:
        root = ET.fromstring(f'<root xmlns:api="{_API_NS}">{body}</root>')
    except ET.ParseError as exc:
        raise _fail(field_name, f"event XML is not well-formed ({exc}); accepted: {_FORMS}") from exc
    state = _State(field_name)
    for el in root:
        state.element(el)
    return CDataEvent(
        cancel_job=state.cancel_job,
        env=dict(state.env),
        send_emails=tuple(state.emails),
        execute_jobs=tuple(state.jobs),
    )


class _State:
    """Walks the script elements, collecting what the supported subset does."""

    def __init__(self, field_name: str) -> None:
        self.field = field_name
        self.cancel_job = False
        self.env: dict[str, str] = {}
        self.items: dict[str, dict[str, str]] = {}  # api:set attr="item.Name" (inputs for api:call in=)
        self.emails: list[SendEmail] = []
        self.jobs: list[str] = []

    def element(self, el: ET.Element) -> None:
        tag = _tag(el)
        if tag == "script":
            for child in el:
                self.element(child)
        elif tag in ("info", "push"):
            return
        elif tag == "set":
            self.set(el)
        elif tag == "call":
            self.call(el)
        else:
            raise _fail(self.field, f"<{el.tag.split('}')[-1]}> is not supported; accepted: {_FORMS}")

    def _attr_value(self, el: ET.Element) -> tuple[str, str]:
        attr = el.get("attr")
        if not attr:
            raise _fail(self.field, "<api:set> needs an attr")
        value = el.get("value", el.text or "")
        return attr.strip(), _literal(value, self.field, attr)

    def set(self, el: ET.Element) -> None:
        attr, value = self._attr_value(el)
        lower = attr.lower()
        if lower in ("canceljob", "out.canceljob"):
            word = value.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise _fail(self.field, f"CancelJob must be true or false, got {value!r}")
            self.cancel_job = word in TRUE_WORDS
        elif lower.startswith(("out.env:", "env:")):
            name = attr.split(":", 1)[1]
            if not _ENV_NAME_RE.fullmatch(name):
                raise _fail(self.field, f"environment variable name {name!r} must be an identifier")
            self.env[name] = value
        elif "." in attr:
            item, _, name = attr.partition(".")
            self.items.setdefault(item.lower(), {})[name.lower()] = value
        else:
            raise _fail(
                self.field,
                f"<api:set attr={attr!r}> is not supported; use CancelJob, out.env:NAME or item.Input",
            )

    def call(self, el: ET.Element) -> None:
        op = (el.get("op") or "").strip().lower()
        inputs = dict(self.items.get((el.get("in") or "").strip().lower(), {}))
        for child in el:
            if _tag(child) != "set":
                raise _fail(self.field, f"<api:call op={op!r}> may contain only <api:set> inputs")
            attr, value = self._attr_value(child)
            inputs[attr.rpartition(".")[2].lower()] = value
        if op == "sendemail":
            self.send_email(inputs)
        elif op == "executejob":
            name = inputs.get("jobname", "").strip()
            if not JOB_NAME_RE.fullmatch(name):
                raise _fail(
                    self.field, f"<api:call op='executeJob'> needs a valid JobName input, got {name!r}"
                )
            self.jobs.append(name)
        else:
            raise _fail(
                self.field, f"<api:call op={el.get('op')!r}> is not supported; use sendEmail or executeJob"
            )

    def send_email(self, inputs: dict[str, str]) -> None:
        unknown = set(inputs) - {"to", "subject", "message"}
        if unknown:
            raise _fail(
                self.field,
                f"sendEmail inputs are To, Subject and Message; unknown: {', '.join(sorted(unknown))}",
            )
        to = inputs.get("to", "").strip()
        if not to:
            raise _fail(self.field, "sendEmail needs a To input (comma-separated addresses)")
        for name in ("to", "subject"):
            try:
                check_header_text(inputs.get(name, ""), f"sendEmail {name.title()}")
            except JobValidationError as exc:
                raise _fail(self.field, exc.message) from None
        check_email_list(to, self.field)
        addresses = tuple(a.strip() for a in to.split(",") if a.strip())
        self.emails.append(SendEmail(addresses, inputs.get("subject", ""), inputs.get("message", "")))


# --- executeJob links between jobs ---------------------------------------------------------------------


def execute_job_targets(event: Event | None) -> tuple[str, ...]:
    """The jobs an event starts with ``executeJob``."""
    return event.execute_jobs if isinstance(event, CDataEvent) else ()


def _links(job: Any) -> dict[str, tuple[str, ...]]:
    """``{field: targets}`` of a job's PreJob / PostJob (a stored event that no longer parses has none)."""
    out = {}
    for name, text in (("PreJob", job.pre_job), ("PostJob", job.post_job)):
        try:
            out[name] = execute_job_targets(parse_event(text, field=name))
        except JobValidationError:
            out[name] = ()
    return out


def check_event_links(job: Any, stored: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
    """Refuse, at save, an ``executeJob`` event that names no job or that leads back to ``job``.

    :param job: the job being saved (its events already parsed and valid)
    :param stored: the other stored jobs by name (or a callable returning them, called only when ``job``
        has ``executeJob`` events)
    :raises JobValidationError: naming the field, the missing job or the whole cycle
    """
    own = _links(job)
    if not any(own.values()):
        return
    jobs = dict(stored() if callable(stored) else stored)
    jobs[job.name] = job
    for field_name, targets in own.items():
        for target in targets:
            if target not in jobs:
                raise _fail(
                    field_name,
                    f"executeJob names job {target!r}, which does not exist; create it first or fix the name",
                )
    graph = {name: tuple(t for ts in _links(j).values() for t in ts) for name, j in jobs.items()}
    for field_name, targets in own.items():
        for target in targets:
            path = _path(graph, target, job.name)
            if path is not None:
                cycle = " -> ".join((job.name, *path))
                raise _fail(
                    field_name,
                    f"executeJob would start a loop: {cycle}. A job may not start itself, directly or "
                    "through other jobs",
                )


def order_by_links(jobs: Iterable[Any]) -> list[Any]:
    """Jobs in an order where every ``executeJob`` target of the batch is saved before the job naming it
    (otherwise the order given); a cycle inside the batch keeps its order and is refused at save."""
    pending = list(jobs)
    names = {j.name for j in pending}
    placed: list[Any] = []
    done: set[str] = set()
    while pending:
        for job in pending:
            needs = {t for ts in _links(job).values() for t in ts if t in names and t != job.name}
            if needs <= done:
                break
        else:  # a cycle: save the rest in order, the first save of the cycle reports it
            placed += pending
            break
        pending.remove(job)
        placed.append(job)
        done.add(job.name)
    return placed


def _path(graph: Mapping[str, tuple[str, ...]], start: str, goal: str) -> tuple[str, ...] | None:
    """A path of job names from ``start`` to ``goal`` following executeJob links (breadth first)."""
    frontier: list[tuple[str, ...]] = [(start,)]
    seen = {start}
    while frontier:
        nxt: list[tuple[str, ...]] = []
        for path in frontier:
            if path[-1] == goal:
                return path
            for target in graph.get(path[-1], ()):
                if target not in seen:
                    seen.add(target)
                    nxt.append((*path, target))
        frontier = nxt
    return None

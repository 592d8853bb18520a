"""TaskIds: the stable identity of each query of a job (connections-tasks spec, "Tasks").

CData names a job's tasks by ``TaskId``: a server-assigned large integer, sent as a string, stable for the
task's whole life whatever else changes around it. Here each query of a :class:`~airflow_sync.jobs.model.Job`
carries one, stored beside the query list in the job's Variable (the query list stays the one source of
truth: a task *is* a ``Query#N``). New tasks get random ids; a query list replaced through ``PUT /jobs``
keeps the ids of the queries it still contains; job records written before ids existed get ids derived from
their JobId and query text, so they read the same every time until the job is next saved.

Ids are 19 digits (above 2**53, as CData's are: clients must treat them as strings). Nothing here imports
Airflow.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence

_LOW = 10**18
_SPAN = 9 * 10**18


def new_task_id() -> str:
    """A fresh random TaskId (19 digits)."""
    return str(_LOW + secrets.randbelow(_SPAN))


def derived_task_ids(job_id: str, queries: Sequence[str]) -> tuple[str, ...]:
    """Deterministic TaskIds for a record without stored ids (same text repeated: its occurrence counts)."""
    seen: dict[str, int] = {}
    out = []
    for query in queries:
        text = query.strip()
        seen[text] = seen.get(text, 0) + 1
        digest = hashlib.sha256(f"{job_id}\n{seen[text]}\n{text}".encode()).digest()
        out.append(str(_LOW + int.from_bytes(digest[:8], "big") % _SPAN))
    return tuple(out)


def carried_task_ids(
    old_queries: Sequence[str],
    old_ids: Sequence[str],
    new_queries: Iterable[str],
    normalize: Callable[[str], str],
) -> tuple[str, ...]:
    """TaskIds for a replaced query list: a query that was already there (same statement, compared by
    ``normalize``) keeps its id, in order of appearance; any other query gets a new one."""
    pool: dict[str, list[str]] = {}
    for query, task_id in zip(old_queries, old_ids, strict=True):
        pool.setdefault(normalize(query), []).append(task_id)
    out = []
    for query in new_queries:
        ids = pool.get(normalize(query))
        out.append(ids.pop(0) if ids else new_task_id())
    return tuple(out)


def valid_ids(value: object, count: int) -> tuple[str, ...] | None:
    """Stored ids when they are ``count`` distinct digit strings, else None (then ids are derived)."""
    if not isinstance(value, list | tuple) or len(value) != count:
        return None
    if not all(isinstance(v, str) and v.isdigit() for v in value) or len(set(value)) != count:
        return None
    return tuple(value)

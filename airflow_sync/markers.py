"""The records a query task keeps of what it committed, and the cancel request cancelJob leaves for it.

Both live in Airflow 3.3's *task state store* (``task_state_store``): scoped to one task of one run and
shared by all its tries (XCom is cleared at every new try), written by the task through the Task SDK and
read by the API from the metadata DB.

``airflow_sync.commits`` — written by the query task::

    {"tries": {"1": {"state": "done", "host": "worker-1", "at": "...",
                     "committed": {"rows_read": .., "rows_inserted": .., "rows_updated": ..,
                                   "rows_deleted": .., "records_affected": ..},
                     "pending": null}}}

``state`` of a try: ``committing`` (a COMMIT is about to be sent: ``pending`` holds what it commits),
``committed`` (a COMMIT succeeded; an incremental load may commit again), ``aborted`` (the pending COMMIT
was not sent because the run was cancelled), ``done`` (the whole load finished). ``committed`` always
holds what this try has committed so far.

``airflow_sync.cancel`` — written by cancelJob for every task of the run *before* it stops them:
``{"by": user, "at": iso}``. A task writes its ``committing`` record, then reads this key; cancelJob writes
this key, then reads the records. So either the task sees the cancel and does not commit, or cancelJob sees
the pending COMMIT and waits for its outcome before it answers: the answer is what the destination holds.

No Airflow imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COMMITS_KEY = "airflow_sync.commits"
CANCEL_KEY = "airflow_sync.cancel"
#: XCom key under which a query task mirrors its commit records for post_job (tasks can only read their own
#: state store)
COMMITS_XCOM = "commits"

COMMITTING, COMMITTED, ABORTED, DONE = "committing", "committed", "aborted", "done"
COUNT_FIELDS = ("rows_read", "rows_inserted", "rows_updated", "rows_deleted", "records_affected")


def counts(summary: Any) -> dict[str, int]:
    """The counts of an engine ``ReplicationSummary`` (or its dict form)."""
    get = summary.get if isinstance(summary, Mapping) else (lambda k, d=0: getattr(summary, k, d))
    return {name: int(get(name, 0) or 0) for name in COUNT_FIELDS}


def tries(doc: Any) -> dict[int, dict[str, Any]]:
    """The per-try records of a ``airflow_sync.commits`` document, keyed by try number."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tries"), Mapping):
        return {}
    out = {}
    for key, entry in doc["tries"].items():
        if isinstance(entry, Mapping) and str(key).isdigit():
            out[int(key)] = dict(entry)
    return out


def records(doc: Any) -> int | None:
    """Records affected by every try that committed (None when no try recorded anything)."""
    entries = tries(doc)
    if not entries:
        return None
    return sum(int((e.get("committed") or {}).get("records_affected") or 0) for e in entries.values())


def committed_counts(doc: Any) -> dict[str, int]:
    """Every count summed over the tries that committed."""
    total = dict.fromkeys(COUNT_FIELDS, 0)
    for entry in tries(doc).values():
        for name in COUNT_FIELDS:
            total[name] += int((entry.get("committed") or {}).get(name) or 0)
    return total


def finished_load(doc: Any, try_number: int) -> bool:
    """Whether try ``try_number`` finished its whole load (its last COMMIT happened)."""
    return tries(doc).get(try_number, {}).get("state") == DONE


def unresolved(doc: Any, try_number: int) -> bool:
    """Whether try ``try_number`` is between sending a COMMIT and knowing its outcome."""
    return tries(doc).get(try_number, {}).get("state") == COMMITTING


def hosts(doc: Any) -> list[str]:
    """The hosts that ran the tries, in try order, without repeats."""
    out: list[str] = []
    for _, entry in sorted(tries(doc).items()):
        host = entry.get("host")
        if isinstance(host, str) and host and host not in out:
            out.append(host)
    return out

"""Turn driver exceptions into :class:`~airflow_sync.exceptions.ReplicationError` s.

Transient (connection reset, deadlock, serialization failure, lock timeout) → Airflow retries; everything
else is terminal. Messages name the table, the column and the batch where known and never carry row
values: quoted fragments of the database's message that are not one of our identifiers are redacted. Raise
them ``from`` :func:`redacted` of the driver's exception, which keeps its stack and not its words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow_sync.exceptions import (
    ReplicationCancelled,
    ReplicationError,
    TerminalReplicationError,
    TransientReplicationError,
)

if TYPE_CHECKING:
    from airflow_sync.engine.dialects.base import Dialect

_QUOTED = re.compile(r"'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|\(([^()]*)\)=\(([^()]*)\)")


def redact(message: str, known: Iterable[str]) -> str:
    """Replace quoted fragments of ``message`` that are not known identifiers by ``'?'``."""
    names = {n.lower() for n in known if n}

    def sub(m: re.Match[str]) -> str:
        if m.group(3) is not None:  # PostgreSQL "Key (id)=(42)" detail
            return f"({m.group(3)})=(?)"
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        parts = [p.strip('`"[] ') for p in re.split(r"[.]", inner)]
        if inner and all(p.lower() in names for p in parts if p):
            return m.group(0)
        return "'?'"

    return _QUOTED.sub(sub, message)


class RedactedError(Exception):
    """Stands in for a driver's exception as the cause of a :class:`ReplicationError`: its stack, its type
    and its message redacted as the error's own. A driver's message may quote a row value, and the chained
    cause of a task's failure is printed in the task's log."""


def redacted(exc: BaseException, known: Iterable[str] = ()) -> RedactedError:
    """The stand-in for ``exc`` (see :class:`RedactedError`), with ``exc``'s traceback and no chain."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return RedactedError(f"{kind}: {redact(str(exc), known)}").with_traceback(exc.__traceback__)


def classify(
    exc: BaseException,
    dialect: Dialect,
    *,
    where: str,
    known: Iterable[str] = (),
    cancelled: bool = False,
    timeout: int = 0,
) -> ReplicationError:
    """The :class:`ReplicationError` for a driver exception raised while doing ``where``.

    :param where: what was running, e.g. ``"loading table 'orders', batch 3"``
    :param known: identifiers that may appear in the message (everything else quoted is redacted)
    :param cancelled: the run's CancelToken was set (an interrupted statement is a cancellation)
    :param timeout: the CommandTimeout in seconds (an interrupted statement without cancel is a timeout)
    """
    if isinstance(exc, ReplicationError):
        return exc
    kind = dialect.classify(exc)
    text = redact(dialect.error_text(exc), known)
    if cancelled or kind == "cancelled":
        return ReplicationCancelled(f"Cancelled while {where}")
    if kind in ("interrupted", "timeout"):
        limit = f" of {timeout} s" if timeout else ""
        return TerminalReplicationError(f"Statement exceeded CommandTimeout{limit} while {where}: {text}")
    if kind == "transient":
        return TransientReplicationError(f"Transient database error while {where}: {text}")
    if kind is None:
        return TerminalReplicationError(f"{type(exc).__name__} while {where}: {redact(str(exc), known)}")
    return TerminalReplicationError(f"Database error while {where}: {text}")

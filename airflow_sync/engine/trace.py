"""Statement tracing for the job's Verbosity 4 and 5 (never values).

A run binds its logger and Verbosity here (a context variable, set on the thread that runs the load);
the dialects call :func:`statement` for the statements they send. Verbosity 4 logs each statement (DEBUG),
5 also its duration and row count. String and number literals are replaced by ``?`` and long statements
are cut, so no row value reaches the log even where the SQL carries one (a window bound, a key).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Python log level of Verbosity 5 (below DEBUG)
TRACE = 5
_MAX = 600
_current: contextvars.ContextVar[tuple[logging.Logger, int] | None] = contextvars.ContextVar(
    "airflow_sync_trace", default=None
)
_LITERALS = re.compile(r"'(?:[^']|'')*'|(?<![\w.\"`\]])-?\d+(?:\.\d+)?(?![\w\"`])")


def redact(sql: str) -> str:
    """The statement with its literals replaced by ``?`` and whitespace folded, cut at a readable length."""
    text = " ".join(_LITERALS.sub("?", sql).split())
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


@contextmanager
def bound(log: logging.Logger, verbosity: int) -> Iterator[None]:
    """Trace the statements sent while the block runs (on this thread) to ``log``."""
    token = _current.set((log, verbosity) if verbosity >= 4 else None)
    try:
        yield
    finally:
        _current.reset(token)


def enabled() -> bool:
    return _current.get() is not None


def statement(sql: str, *, started: float | None = None, rows: Any = None) -> None:
    """Log one statement (Verbosity 4), with its duration and row count when given (Verbosity 5)."""
    bound_to = _current.get()
    if bound_to is None:
        return
    log, verbosity = bound_to
    if verbosity >= 5 and started is not None:
        count = "" if rows is None or rows == -1 else f", {rows} rows"
        log.log(TRACE, "SQL (%.3f s%s): %s", time.monotonic() - started, count, redact(sql))
    else:
        log.debug("SQL: %s", redact(sql))

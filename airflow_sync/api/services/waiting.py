"""Waiting without holding a server thread: poll the metadata DB with backoff from the event loop.

A waiting executeJob is a suspended coroutine; each poll borrows a worker thread for one short DB read
(``asyncio.to_thread``) and gives it back, so a thousand waiting clients cost no thousand threads. The
state lives in the DB, so this works with several api-server processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: first and largest pause between two polls, in seconds
FIRST_DELAY, MAX_DELAY = 0.2, 2.0


async def poll(
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float | None,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
) -> tuple[T, bool]:
    """Call ``read()`` (in a worker thread) until ``done(value)`` or ``timeout`` seconds pass.

    :param timeout: seconds; None waits until done
    :return: the last value read and whether it was done
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first_delay
    while True:
        value = await asyncio.to_thread(read)
        if done(value):
            return value, True
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return value, False
            pause = min(delay, left)
        else:
            pause = delay
        await asyncio.sleep(pause)
        delay = min(delay * 2, max_delay)


def wait_seconds(timeout: int | None, *, cap: int) -> float:
    """The effective wait: ``Timeout`` seconds (0 or absent = until the end), never above ``cap``."""
    if timeout is None or timeout <= 0:
        return float(cap)
    return float(min(timeout, cap))

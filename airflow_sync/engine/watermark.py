"""Pure functions of incremental mode: CData's watermark rule, interval windows, (de)serialisation."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

Watermark = datetime | int


def next_watermark(
    max_seen: datetime | None, run_start: datetime, max_offset: int = 300, min_offset: int = 0
) -> datetime:
    """The watermark saved after a run (``research/cdata-sync-spec.md`` §6.4).

    ``min(max(max_seen, R - Max), R - Min)`` with ``Max`` raised to ``Min`` when smaller (CData's
    auto-correction). It may advance to ``R - Max`` when nothing newer was seen, and ``Min`` keeps a
    deliberate overlap for clock skew; overlap is safe because writes are upserts by key.

    :param max_seen: largest check-column value read in this run (None when no rows)
    :param run_start: ``R``, the run's upper bound
    :param max_offset: ``MaxLastModTimeOffset`` in seconds
    :param min_offset: ``MinLastModTimeOffset`` in seconds
    """
    if max_offset < min_offset:
        max_offset = min_offset
    floor = run_start - timedelta(seconds=max_offset)
    candidate = floor if max_seen is None else max(max_seen, floor)
    return min(candidate, run_start - timedelta(seconds=min_offset))


def add_interval(start: datetime, n: int, unit: str) -> datetime:
    """``start`` plus ``n`` units (months and years keep the day, clamped to the month's end)."""
    if unit == "minutes":
        return start + timedelta(minutes=n)
    if unit == "hours":
        return start + timedelta(hours=n)
    if unit == "days":
        return start + timedelta(days=n)
    if unit == "weeks":
        return start + timedelta(weeks=n)
    months = n * (12 if unit == "years" else 1)
    if unit not in ("months", "years"):
        raise ValueError(f"unknown ReplicateIntervalUnit {unit!r}")
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def windows(
    lower: datetime, upper: datetime, interval: int | None, unit: str
) -> list[tuple[datetime, datetime]]:
    """Half-open windows ``[lo, hi)`` covering ``[lower, upper)``; one window without an interval."""
    if lower >= upper:
        return [(lower, upper)]
    if not interval or interval <= 0:
        return [(lower, upper)]
    out = []
    lo = lower
    while lo < upper:
        hi = min(add_interval(lo, interval, unit), upper)
        out.append((lo, hi))
        lo = hi
    return out


def as_datetime(v: Any) -> Any:
    """Dates compare with datetimes as midnight."""
    if isinstance(v, date) and not isinstance(v, datetime):
        return datetime(v.year, v.month, v.day)
    return v


def format_watermark(v: Watermark | None) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def parse_watermark(text: str | None, integer: bool) -> Watermark | None:
    if text is None or text == "":
        return None
    if integer:
        return int(text)
    return datetime.fromisoformat(text)

"""CData Sync cron -> Airflow cron.

CData's ``ScheduledCron`` is a 5-field cron (minute hour day-of-month month day-of-week) in the Quartz
tradition: day-of-week is **1-7 with 1 = Sunday**, ``?`` means "no specific value", ``L`` is "last", ``W``
"nearest weekday" and ``#`` "nth weekday of the month". Airflow schedules with croniter, whose day-of-week is
0-6 with 0 = Sunday. This module translates every form croniter can express and rejects the rest with a
precise reason, so a job is never saved with a schedule that would fire at other times than the user meant.

Translation rules:

* numbers in day-of-week are shifted down by one (``2-6`` -> ``1-5``, ``1,7`` -> ``0,6``); ranges that
  wrap (``6-2``, Fri-Mon) stay ranges (croniter wraps them); step forms (``1/2``, ``2-6/2``) are expanded
  to the explicit list of days they select; names (``SUN``-``SAT``) pass through;
* ``?`` -> ``*``;
* day-of-month ``L`` (last day), ``a-L`` pass through; day-of-week ``NL`` (last N-day of the month, e.g.
  ``5L`` = last Thursday) -> croniter ``L<N-1>``; ``N#k`` (k-th N-day) -> ``<N-1>#k``;
* ``a/s`` (start/step without an end) -> ``a-<max>/s`` because croniter reads a bare ``a/s`` differently;
* rejected: ``W`` and ``LW`` (nearest weekday), ``L-n`` (offset from the last day), 6/7-field forms with
  seconds or a year, mixing ``#``/``L`` with plain values in day-of-week or with a day-of-month,
  out-of-range values, and dates that never exist (``0 0 30 2 *``).

When both day-of-month and day-of-week are restricted, the job fires when *either* matches (croniter's and
Airflow's rule); Quartz would demand ``?`` in one of them, so such expressions are unusual in practice.

No Airflow imports (croniter only, imported lazily for the final check).
"""

from __future__ import annotations

import re
from datetime import datetime

from airflow_sync.exceptions import JobValidationError

FIELD = "ScheduledCron"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Quartz 1..7
#: Airflow-style presets; CData has none, but Airflow users type them
PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_USAGE = "5 fields: minute hour day-of-month month day-of-week (day-of-week 1-7 or SUN-SAT, 1 = Sunday)"


def _fail(message: str) -> JobValidationError:
    return JobValidationError(f"ScheduledCron: {message}", field=FIELD)


class _Field:
    """Range and names of one cron field."""

    def __init__(
        self, index: int, lo: int, hi: int, names: tuple[str, ...] = (), names_base: int = 1
    ) -> None:
        self.label = _FIELD_NAMES[index]
        self.lo, self.hi = lo, hi
        self.names = {n: i + names_base for i, n in enumerate(names)}

    def number(self, token: str, expr: str) -> int:
        """A value of this field (number or name) in the field's own (CData) numbering."""
        upper = token.upper()
        if upper in self.names:
            return self.names[upper]
        if not token.isdigit():
            raise _fail(f"{token!r} is not a valid {self.label} value in {expr!r}")
        value = int(token)
        if not self.lo <= value <= self.hi:
            raise _fail(f"{self.label} value {value} is out of range {self.lo}-{self.hi} in {expr!r}")
        return value

    def step(self, token: str, expr: str) -> int:
        if not token.isdigit() or int(token) == 0:
            raise _fail(f"step {token!r} in the {self.label} field must be a positive number in {expr!r}")
        return int(token)


_MINUTE = _Field(0, 0, 59)
_HOUR = _Field(1, 0, 23)
_DOM = _Field(2, 1, 31)
_MONTH = _Field(3, 1, 12, _MONTHS)
_DOW = _Field(4, 1, 7, _DAYS)


def _plain(spec: _Field, text: str, expr: str) -> str:
    """minute / hour / month / day-of-month without the special letters: validate, normalize ``a/s``."""
    out = []
    for item in text.split(","):
        base, _, step = item.partition("/")
        if step:
            spec.step(step, expr)
        if base == "*":
            out.append(item)
            continue
        lo_tok, dash, hi_tok = base.partition("-")
        spec.number(lo_tok, expr)
        if dash:
            spec.number(hi_tok, expr)
            out.append(item)
        elif step:  # "a/s": croniter reads it inconsistently across fields; spell out the end
            out.append(f"{lo_tok}-{spec.hi}/{step}")
        else:
            out.append(item)
    return ",".join(out)


def _dom(text: str, expr: str) -> str:
    if text == "?":
        return "*"
    upper = text.upper()
    if "W" in upper:
        raise _fail(
            f"'W' (nearest weekday) in day-of-month {text!r} is not supported by Airflow's cron; use 'L' for "
            "the last day of the month, explicit days (e.g. '1,15'), or a weekday range in day-of-week "
            "(e.g. '0 2 * * MON-FRI')"
        )
    items = []
    for item in upper.split(","):
        if item == "L":
            items.append("L")
        elif item.startswith("L-"):
            raise _fail(
                f"'{item}' (days before the last day of the month) is not supported by Airflow's cron; use "
                "'L' for the last day or a range like '28-L'"
            )
        elif item.endswith("-L"):
            _DOM.number(item[:-2], expr)
            items.append(item)
        elif "L" in item:
            raise _fail(
                f"{item!r} is not a valid day-of-month value in {expr!r}; 'L' alone means the last day"
            )
        else:
            items.append(_plain(_DOM, item, expr))
    return ",".join(items)


def _dow_days(spec: str, expr: str) -> list[int]:
    """The CData day numbers (1-7) a plain item (number/name/range/step) selects."""
    base, _, step_tok = spec.partition("/")
    step = _DOW.step(step_tok, expr) if step_tok else 1
    if base == "*":
        lo, hi = 1, 7
    else:
        lo_tok, dash, hi_tok = base.partition("-")
        lo = _DOW.number(lo_tok, expr)
        hi = _DOW.number(hi_tok, expr) if dash else (7 if step_tok else lo)
    span = (hi - lo) % 7 if (lo, hi) != (1, 7) else 6
    return [((lo - 1 + k) % 7) + 1 for k in range(0, span + 1, step)]


def _dow(text: str, expr: str) -> str:
    if text in ("?", "*"):
        return "*"
    upper = text.upper()
    if "W" in upper.replace("WED", ""):
        raise _fail(f"'W' (nearest weekday) belongs to day-of-month, not day-of-week {text!r}")
    items = upper.split(",")
    special = [i for i in items if "#" in i or i.endswith("L")]
    if special and len(items) > len(special):
        raise _fail(
            f"day-of-week {text!r} mixes '#'/'L' with plain days, which Airflow's cron cannot express; "
            "use separate jobs or only '#'/'L' items"
        )
    out = []
    for item in items:
        if "#" in item:
            day_tok, _, nth = item.partition("#")
            day = _DOW.number(day_tok, expr)
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise _fail(f"'#' needs an occurrence 1-5 (e.g. '2#1' = first Monday), got {item!r}")
            out.append(f"{day - 1}#{int(nth)}")
        elif item == "L":  # Quartz: "L" alone in day-of-week is the last day of the week, Saturday
            out.append("6")
        elif item.endswith("L"):
            day = _DOW.number(item[:-1], expr)
            out.append(f"L{day - 1}")
        elif item.isalpha() or (re.fullmatch(r"[A-Z]{3}-[A-Z]{3}", item) and "/" not in item):
            _dow_days(item, expr)  # validates the names
            out.append(item)
        else:
            days = _dow_days(item, expr)
            base, _, step = item.partition("/")
            if not step and "-" in base and len(days) > 1:  # keep a range a range (croniter wraps 5-1)
                out.append(f"{days[0] - 1}-{days[-1] - 1}")
            else:
                out.extend(str(d - 1) for d in days)
    return ",".join(dict.fromkeys(out))


def to_airflow_cron(cdata_cron: str) -> str:
    """Translate a CData ``ScheduledCron`` to the cron string Airflow (croniter) schedules with.

    :param cdata_cron: 5-field CData cron (or an Airflow preset like ``@daily``)
    :raises JobValidationError: (field ``ScheduledCron``) naming what is wrong and how to write it instead
    """
    if not isinstance(cdata_cron, str) or not cdata_cron.strip():
        raise _fail(f"a cron expression is required ({_USAGE})")
    expr = " ".join(cdata_cron.split())
    if expr.startswith("@"):
        if expr.lower() in PRESETS:
            return PRESETS[expr.lower()]
        raise _fail(f"unknown preset {expr!r}; use one of {', '.join(PRESETS)} or {_USAGE}")
    parts = expr.split(" ")
    if len(parts) in (6, 7):
        raise _fail(
            f"{expr!r} has {len(parts)} fields; seconds and year fields are not supported, use {_USAGE} "
            f"(e.g. drop the leading seconds: {' '.join(parts[1:6])!r})"
        )
    if len(parts) != 5:
        raise _fail(f"{expr!r} has {len(parts)} fields; use {_USAGE}")
    minute, hour, dom, month, dow = parts
    if dom not in ("*", "?") and re.search(r"#|L", dow, re.IGNORECASE):
        # croniter ignores day-of-month once day-of-week has '#'/'L'; Quartz forbids the mix too
        raise _fail(
            f"an nth ('#') or last ('L') weekday in day-of-week {dow!r} cannot be combined with day-of-month "
            f"{dom!r}; set day-of-month to '?'"
        )
    for label, value in (("minute", minute), ("hour", hour), ("month", month)):
        if value == "?":
            raise _fail(f"'?' is only allowed in day-of-month and day-of-week, not in the {label} field")
    out = " ".join(
        (
            _plain(_MINUTE, minute, expr),
            _plain(_HOUR, hour, expr),
            _dom(dom, expr),
            _plain(_MONTH, month, expr),
            _dow(dow, expr),
        )
    )
    _check_with_croniter(out, expr)
    return out


def _check_with_croniter(out: str, expr: str) -> None:
    from croniter import croniter

    try:
        it = croniter(out, datetime(2000, 1, 1))
    except Exception as exc:  # croniter raises several unrelated types for bad input
        raise _fail(f"{expr!r} cannot be scheduled by Airflow: {exc}") from exc
    try:
        it.get_next(datetime)
    except Exception as exc:  # e.g. "0 0 30 2 *": a date that never exists
        raise _fail(f"{expr!r} never fires (no such date); check day-of-month against the month") from exc

"""Canonical values: what every source value is turned into before a destination converts it.

bool, int, Decimal, float, str, date, time, datetime (aware iff the column has a time zone), bytes; JSON
travels as its text and UUIDs as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from airflow_sync.engine.types import ColType

Converter = Callable[[Any], Any]


def local_tz() -> timezone:
    """The worker's local zone as a fixed offset (naive datetimes are local unless UseGmtDateTime)."""
    off = datetime.now().astimezone().utcoffset() or timedelta(0)
    return timezone(off)


def to_aware(v: Any, use_gmt: bool) -> Any:
    """A naive datetime as aware: UTC with UseGmtDateTime, else the worker's local zone (DST-correct)."""
    if not isinstance(v, datetime) or v.tzinfo is not None:
        return v
    return v.replace(tzinfo=UTC) if use_gmt else v.astimezone()


def to_naive(v: Any, use_gmt: bool) -> Any:
    """An aware datetime as naive wall time: in UTC with UseGmtDateTime, else in the local zone."""
    if not isinstance(v, datetime) or v.tzinfo is None:
        return v
    return v.astimezone(UTC if use_gmt else None).replace(tzinfo=None)


def to_decimal(v: Any) -> Any:
    if v is None or isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    return Decimal(str(v))


def to_datetime(v: Any) -> Any:
    if type(v) is str:
        try:  # the common case (SQLite text in ISO form) without the checks below
            return datetime.fromisoformat(v)
        except ValueError:
            pass
    if v is None or isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    s = str(v).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return datetime.fromisoformat(s)


def to_date(v: Any) -> Any:
    if type(v) is str and len(v) == 10:
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
        return v
    if isinstance(v, datetime):
        return v.date()
    return date.fromisoformat(str(v).strip()[:10])


def to_time(v: Any) -> Any:
    if v is None or isinstance(v, time):
        return v
    if isinstance(v, timedelta):
        secs = v.total_seconds()
        h, rem = divmod(int(secs), 3600)
        m, s = divmod(rem, 60)
        return time(h % 24, m, s, v.microseconds)
    return time.fromisoformat(str(v).strip())


def to_json_text(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode()
    return json.dumps(v, ensure_ascii=False)


def to_bool(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() in ("1", "t", "true", "y", "yes", "on")
    return bool(v)


def to_str(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def to_bytes(v: Any) -> Any:
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return str(v).encode()


def to_int(v: Any) -> Any:
    if v is None or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (Decimal, float)):
        return int(v)
    return int(str(v).strip())


def to_float(v: Any) -> Any:
    if v is None or isinstance(v, float):
        return v
    return float(v)


#: canonical coercion by destination kind, used when source and destination kinds differ
COERCE: dict[str, Converter] = {
    "bool": to_bool,
    "int16": to_int,
    "int32": to_int,
    "int64": to_int,
    "decimal": to_decimal,
    "float32": to_float,
    "float64": to_float,
    "string": to_str,
    "text": to_str,
    "date": to_date,
    "time": to_time,
    "timestamp": to_datetime,
    "binary": to_bytes,
    "json": to_json_text,
    "uuid": to_str,
}

_FAMILY = {
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "float32": "float",
    "float64": "float",
    "string": "str",
    "text": "str",
}


def same_family(a: ColType, b: ColType) -> bool:
    return _FAMILY.get(a.kind, a.kind) == _FAMILY.get(b.kind, b.kind)

"""Time-zone handling of naive/aware datetimes (UseGmtDateTime), DST-correct in the local zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync.engine.dialects.values import to_aware, to_naive


@pytest.fixture
def paris(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_local_conversions_follow_dst(paris):
    assert to_aware(datetime(2024, 7, 1, 12), False).utcoffset() == timedelta(hours=2)
    assert to_aware(datetime(2024, 1, 1, 12), False).utcoffset() == timedelta(hours=1)
    # both sides of the October fold are 02:30 local wall time
    assert to_naive(datetime(2024, 10, 27, 0, 30, tzinfo=UTC), False) == datetime(2024, 10, 27, 2, 30)
    assert to_naive(datetime(2024, 10, 27, 1, 30, tzinfo=UTC), False) == datetime(2024, 10, 27, 2, 30)


def test_gmt_conversions_ignore_the_local_zone(paris):
    assert to_aware(datetime(2024, 7, 1, 12), True) == datetime(2024, 7, 1, 12, tzinfo=UTC)
    assert to_naive(datetime(2024, 10, 27, 1, 30, tzinfo=UTC), True) == datetime(2024, 10, 27, 1, 30)
    assert to_naive(None, True) is None and to_aware("x", False) == "x"


def test_sqlite_stores_integer_decimals_exactly():
    """A BIGINT UNSIGNED (a decimal(20,0)) reaches the writer as a Python int: kept whole, not through a
    double ("18446744073709551616.000000" before the fix)."""
    from decimal import Decimal

    from sqlalchemy.engine import make_url

    from airflow_sync.engine.dialects.sqlite import SQLiteDialect
    from airflow_sync.engine.types import ColType

    write = SQLiteDialect(make_url("sqlite://")).writer(ColType("decimal", precision=20, scale=0), "", True)
    assert write is not None
    assert [write(v) for v in (2**64 - 1, 0, -(2**63), None)] == [
        "18446744073709551615",
        "0",
        str(-(2**63)),
        None,
    ]
    assert write(Decimal("-0.0000000001")) == "-0.0000000001" and write(Decimal("1E+3")) == "1000"

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

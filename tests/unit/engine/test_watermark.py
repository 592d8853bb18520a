"""CData's watermark rule (research/cdata-sync-spec.md §6.4), windows and the check-column rule."""

from __future__ import annotations

from datetime import datetime

import pytest

from airflow_sync.engine.reflect import detect_check_column
from airflow_sync.engine.types import ColType, Column, TableSchema
from airflow_sync.engine.watermark import add_interval, next_watermark, windows

R = datetime(2024, 1, 1, 1, 0)


@pytest.mark.parametrize(
    ("max_seen", "max_offset", "min_offset", "expected"),
    [
        (datetime(2024, 1, 1, 0, 0), 300, 0, datetime(2024, 1, 1, 0, 55)),  # old rows: advance to R - Max
        (None, 300, 0, datetime(2024, 1, 1, 0, 55)),  # no check values seen
        (datetime(2024, 1, 1, 0, 58), 300, 0, datetime(2024, 1, 1, 0, 58)),  # recent row wins
        (datetime(2024, 1, 1, 0, 0), 300, 360, datetime(2024, 1, 1, 0, 54)),  # Max < Min: Max := Min
        (datetime(2024, 1, 1, 0, 58), 300, 360, datetime(2024, 1, 1, 0, 54)),  # Min forces an overlap
    ],
)
def test_the_five_published_examples(max_seen, max_offset, min_offset, expected):
    assert next_watermark(max_seen, R, max_offset, min_offset) == expected


def test_windows_cover_the_range_without_gaps():
    lo, hi = datetime(2024, 1, 31), datetime(2024, 4, 15)
    w = windows(lo, hi, 1, "months")
    assert w == [
        (datetime(2024, 1, 31), datetime(2024, 2, 29)),
        (datetime(2024, 2, 29), datetime(2024, 3, 29)),
        (datetime(2024, 3, 29), datetime(2024, 4, 15)),
    ]
    assert windows(lo, hi, None, "days") == [(lo, hi)]
    assert len(windows(lo, hi, 7, "days")) == 11
    assert add_interval(datetime(2024, 2, 29), 1, "years") == datetime(2025, 2, 28)


def _table(*cols: tuple[str, str]) -> TableSchema:
    return TableSchema(tuple(Column(n, ColType(k)) for n, k in cols), ("id",))


def test_check_column_rule():
    t = _table(("id", "int64"), ("name", "text"), ("Updated_At", "timestamp"), ("modified", "timestamp"))
    assert detect_check_column(t, (), ("id",)).name == "Updated_At"
    # explicit list: the first that exists wins, whatever its name or type
    assert detect_check_column(t, ("missing", "NAME", "modified"), ("id",)).name == "name"
    assert detect_check_column(t, ("missing",), ("id",)) is None
    # no primary key: no incremental mode
    assert detect_check_column(t, (), ()) is None
    # a matching name with a non-time/integer type is ignored
    assert detect_check_column(_table(("id", "int64"), ("DateModified", "text")), (), ("id",)) is None
    for name in ("SystemModstamp", "last_modified", "DateModified", "LastModified"):
        assert detect_check_column(_table(("id", "int64"), (name, "timestamp")), (), ("id",)).name == name
    assert detect_check_column(_table(("id", "int64"), ("modified", "int64")), (), ("id",)).name == "modified"

"""The task's side of the connectorx reader process (engine/dialects/mysql_arrow.py), with stand-in readers:
whatever the reader writes on stderr cannot stall the load, its own reason is what the task says, and its
segment folder is gone afterwards."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects import mysql_arrow
from airflow_sync.engine.dialects.sqlite_arrow import NotExact

pytest.importorskip("pyarrow")

PARAMS = {"host": "127.0.0.1", "port": 3306, "user": "u", "password": "p", "database": "d"}

# a reader that writes 1 MB on stderr (a pipe holds 64 KB) before it answers, then fails with its reason
LOUD = """
import json, sys
json.loads(sys.stdin.readline())
sys.stderr.write("thread 'main' panicked\\n" * 50_000)
sys.stderr.flush()
print("airflow_sync: connectorx stopped: PanicException: the reason", file=sys.stderr)
sys.exit(3)
"""

# a reader that writes 1 MB on stderr, then one segment of two batches, and succeeds
LOUD_THEN_ROWS = """
import json, os, sys
import pyarrow as pa
request = json.loads(sys.stdin.readline())
sys.stderr.write("x" * 1_000_000)
sys.stderr.flush()
batch = pa.record_batch([pa.array([1, 2]), pa.array(["a", None])], names=["c0", "c1"])
with pa.ipc.new_stream(os.path.join(request["spool"], "segment-000000.arrows"), batch.schema) as out:
    out.write_batch(batch)
    out.write_batch(batch)
print("segment-000000.arrows", flush=True)
"""


def _read(monkeypatch, tmp_path, script: str) -> tuple[list[Any], BaseException | None]:
    """The batches of :func:`mysql_arrow.batches` with ``script`` as the reader, read in a thread the test
    waits for at most 60 s (a stalled load fails the test instead of hanging it)."""
    child = tmp_path / "reader.py"
    child.write_text(script)
    monkeypatch.setattr(mysql_arrow, "_CHILD", str(child))
    beside = tmp_path / "dst"
    beside.mkdir()
    got: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            got.extend(mysql_arrow.batches(PARAMS, "SELECT 1", ["int", "string"], CancelToken(), str(beside)))
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the load stalled on the reader's stderr"
    assert os.listdir(beside) == [], "the segment folder is removed"
    return got, failed[0] if failed else None


def test_a_reader_failing_loudly_does_not_stall_and_its_reason_is_said(monkeypatch, tmp_path):
    got, failed = _read(monkeypatch, tmp_path, LOUD)
    assert got == [] and isinstance(failed, NotExact)
    assert str(failed) == "connectorx stopped: PanicException: the reason"


def test_a_reader_writing_on_stderr_before_its_rows_hands_them_over(monkeypatch, tmp_path):
    got, failed = _read(monkeypatch, tmp_path, LOUD_THEN_ROWS)
    assert failed is None
    assert [b.to_pydict() for b in got] == [{"c0": [1, 2], "c1": ["a", None]}] * 2


def test_a_reader_that_cannot_start_is_not_exact(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    got, failed = _read(monkeypatch, tmp_path, "")
    assert got == [] and isinstance(failed, NotExact) and "FileNotFoundError" in str(failed)

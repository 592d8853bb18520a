"""PostgreSQL and MariaDB into SQLite through Arrow and a scratch file (engine/dialects/sqlite_ingest.py,
ADR 0007): SQLite holds exactly what the row path stores (storage class and value), across batch seams;
a batch the path cannot take leaves the destination untouched and the path below loads the rows; cancel
mid-load and the commit guard keep the old contents; the scratch file never outlives the run."""

from __future__ import annotations

import os
from typing import Any

import pytest

from airflow_sync.engine import hooks, route, write
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.dialects import mysql_arrow, sqlite_ingest
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from tests.integration.engine.conftest import cancel_at, get_backend
from tests.integration.engine.test_into_sqlite import COLUMNS, NAMES, ROWS, _plan, _source, _stored

pytestmark = pytest.mark.skipif(
    not (sqlite_ingest.available("postgresql") and sqlite_ingest.available("mysql")),
    reason="needs the arrow extra",
)


@pytest.fixture(autouse=True)
def _small_loads_too(monkeypatch):
    """The tables here are small: let them through the Arrow path (test_small_loads_... checks the gate),
    in batches of a few rows from MariaDB through connectorx too."""
    monkeypatch.setattr(route, "INGEST_MIN_ROWS", 1)
    monkeypatch.setattr(mysql_arrow, "BATCH_ROWS", 7)


class Spy:
    """What each Arrow ingest returned: rows, or None when it handed the load to the path below."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[int | None] = []
        real = write._ingest

        def spy(*a: Any, **kw: Any) -> int | None:
            n = real(*a, **kw)
            self.results.append(n)
            return n

        monkeypatch.setattr(write, "_ingest", spy)


def _many(n: int) -> list[tuple]:
    """``n`` rows cycling through ROWS' values (NULLs, unicode, extremes), with new keys."""
    return [(i, *ROWS[i % len(ROWS)][1:]) for i in range(1, n + 1)]


def _leftovers(dst) -> list[str]:
    folder = os.path.dirname(dst.url.removeprefix("sqlite:///"))
    return [f for f in os.listdir(folder) if f.startswith(".airflow_sync_arrow-")]


def _via(monkeypatch: pytest.MonkeyPatch, src_name: str) -> str:
    """The source's name; "mysql-lines": MariaDB through the text pipe's lines, connectorx left out (ADR 0008
    reads MariaDB through connectorx when it is installed; the lines are the path below it)."""
    if src_name == "mysql-lines":
        monkeypatch.setattr(mysql_arrow, "available", lambda: False)
        return "mysql"
    return src_name


def _row_path(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    for switch in ("ARROW", "TEXT_PIPE", "ROW_RENDER"):
        monkeypatch.setattr(hooks, switch, not on)


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_stored_rows_equal_the_row_path_across_batch_seams(request, monkeypatch, src_name):
    src_name = _via(monkeypatch, src_name)
    # small batches: MariaDB's blocks follow batch_size, ADBC's PostgreSQL batches a byte budget
    monkeypatch.setattr(sqlite_ingest, "PG_BATCH_BYTES", 2000)
    rows = _many(300)
    src = _source(request, src_name, "sqa edge", rows)
    dst = get_backend(request, "sqlite")
    for table in ("sqa fast", "sqa rows", "sqa below"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
    spy = Spy(monkeypatch)
    summary = run_replication(_plan("sqa edge", "sqa fast", batch_size=7), src.url, dst.url)
    assert spy.results == [len(rows)], "the Arrow ingest carried the load"
    assert (summary.rows_read, summary.rows_inserted) == (len(rows), len(rows))
    assert summary.batches > 3, "several batches, so seams are crossed"

    _row_path(monkeypatch, True)
    run_replication(_plan("sqa edge", "sqa rows", batch_size=7), src.url, dst.url)
    monkeypatch.setattr(hooks, "ARROW", False)
    monkeypatch.setattr(hooks, "TEXT_PIPE", True)
    monkeypatch.setattr(hooks, "ROW_RENDER", True)
    run_replication(_plan("sqa edge", "sqa below", batch_size=7), src.url, dst.url)
    assert spy.results == [len(rows)]

    fast, slow, below = (_stored(dst, t) for t in ("sqa fast", "sqa rows", "sqa below"))
    assert len(fast) == len(rows)
    for f, r in zip(fast, slow, strict=True):
        for i, col in enumerate(NAMES):
            assert f[2 * i : 2 * i + 2] == r[2 * i : 2 * i + 2], f"{col}: Arrow {f[2 * i : 2 * i + 2]!r}"
    assert repr(fast) == repr(slow) == repr(below)  # repr: -0.0 vs 0.0, 1 vs 1.0
    assert _leftovers(dst) == []


def test_postgres_floats_bytes_and_empty_values(request, monkeypatch):
    """Values psycopg would hand over as they are: NaN (SQLite stores NULL), infinities, -0.0, empty and
    binary bytes, empty text."""
    src = get_backend(request, "postgresql")
    src.run(
        'DROP TABLE IF EXISTS "sqa odd"',
        'CREATE TABLE "sqa odd" (id int PRIMARY KEY, f double precision, b bytea, t text, s smallint)',
        "INSERT INTO \"sqa odd\" VALUES (1, 'Infinity', '', '', 1), (2, '-Infinity', '\\x00ff', 'x', -1), "
        "(3, 'NaN', NULL, NULL, NULL), (4, -0.0, '\\x41', 'ü', 32767)",
    )
    dst = get_backend(request, "sqlite")
    spy = Spy(monkeypatch)
    got = {}
    for table, arrow in (("sqa odd a", True), ("sqa odd r", False)):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
        _row_path(monkeypatch, not arrow)
        run_replication(_plan("sqa odd", table), src.url, dst.url)
        cols = ", ".join(f"typeof({c}), {c}" for c in ("f", "b", "t", "s"))
        got[arrow] = dst.rows(f"SELECT {cols} FROM {dst.q(table)} ORDER BY id")
    assert spy.results == [4]
    assert repr(got[True]) == repr(got[False])
    assert got[True][2][:2] == ("null", None) and got[True][0][2:4] == ("blob", b"")


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_a_batch_the_path_cannot_take_leaves_the_destination_to_the_path_below(
    request, monkeypatch, src_name
):
    """Mid-stream (after batches are already in the scratch): nothing reached the destination, the path
    below loads every row, as it would have alone."""
    src_name = _via(monkeypatch, src_name)
    monkeypatch.setattr(sqlite_ingest, "PG_BATCH_BYTES", 2000)
    rows = _many(200)
    src = _source(request, src_name, "sqa fall", rows)
    dst = get_backend(request, "sqlite")
    spy = Spy(monkeypatch)
    real = sqlite_ingest._scratch
    seen: list[int] = []

    def refuse_third(path: str, batches: Any, each: Any) -> Any:
        def gen() -> Any:
            for i, b in enumerate(batches):
                seen.append(i)
                if i == 2:
                    # a column arriving as a type the path does not take (as ADBC would give an unknown one)
                    import pyarrow as pa

                    b = b.set_column(0, "c0", pa.array([None] * b.num_rows, pa.date32()))
                yield b

        return real(path, gen(), each)

    monkeypatch.setattr(sqlite_ingest, "_scratch", refuse_third)
    for table in ("sqa fall a", "sqa fall r"):
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
    run_replication(_plan("sqa fall", "sqa fall a", batch_size=7), src.url, dst.url)
    # through connectorx, then the lines: each refused at its third batch
    tries = 2 if src_name == "mysql" and mysql_arrow.available() else 1
    assert spy.results == [None] * tries and len(seen) == 3 * tries
    monkeypatch.setattr(hooks, "ARROW", False)
    run_replication(_plan("sqa fall", "sqa fall r", batch_size=7), src.url, dst.url)
    assert repr(_stored(dst, "sqa fall a")) == repr(_stored(dst, "sqa fall r"))
    assert len(_stored(dst, "sqa fall a")) == len(rows)
    assert _leftovers(dst) == []


def test_no_room_for_the_scratch_hands_over_to_the_path_below(request, monkeypatch):
    src = _source(request, "mysql", "sqa room")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa room"')
    spy = Spy(monkeypatch)

    def no_room(*a: Any, **kw: Any) -> str:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(sqlite_ingest.tempfile, "mkdtemp", no_room)
    summary = run_replication(_plan("sqa room", "sqa room"), src.url, dst.url)
    # connectorx, then the lines: neither has room
    assert spy.results == [None, None] and summary.rows_inserted == len(ROWS)


def test_a_failing_reader_hands_over_to_the_path_below(request, monkeypatch, caplog):
    src = _source(request, "postgresql", "sqa broken")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa broken"')
    spy = Spy(monkeypatch)

    def broken(*a: Any, **kw: Any) -> Any:
        # as ADBC reports a server error: the value it could not take, quoted
        raise OSError('invalid input syntax for type integer: "4111-1111-1111-1111"')
        yield  # pragma: no cover

    monkeypatch.setattr(sqlite_ingest, "pg_batches", broken)
    caplog.set_level("INFO")
    summary = run_replication(_plan("sqa broken", "sqa broken", verbosity=3), src.url, dst.url)
    assert spy.results == [None] and summary.rows_inserted == len(ROWS)
    # the hand-over is logged at verbosity 3, without the value
    assert "Arrow ingest left" in caplog.text and "invalid input syntax" in caplog.text
    assert "4111" not in caplog.text


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_cancel_mid_load_keeps_the_old_contents(request, monkeypatch, src_name):
    src_name = _via(monkeypatch, src_name)
    monkeypatch.setattr(sqlite_ingest, "PG_BATCH_BYTES", 2000)
    rows = _many(400)
    src = _source(request, src_name, "sqa cancel", rows)
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa cancel"')
    run_replication(_plan("sqa cancel", "sqa cancel"), src.url, dst.url)
    before = _stored(dst, "sqa cancel")
    token = CancelToken()
    real = sqlite_ingest._scratch
    seen: list[int] = []

    monkeypatch.setattr(
        sqlite_ingest,
        "_scratch",
        lambda path, batches, each: real(path, cancel_at(batches, token, seen), each),
    )
    with pytest.raises(ReplicationCancelled):
        run_replication(
            _plan("sqa cancel", "sqa cancel", batch_size=7, truncate_table=True),
            src.url,
            dst.url,
            cancel=token,
        )
    assert 2 <= len(seen) <= 8, "stops within the batches read ahead"
    assert repr(_stored(dst, "sqa cancel")) == repr(before) and len(before) == len(rows)
    assert _leftovers(dst) == []


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_commit_guard_stops_the_arrow_load_before_commit(request, monkeypatch, src_name):
    src_name = _via(monkeypatch, src_name)
    src = _source(request, src_name, "sqa guard")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa guard"')
    spy = Spy(monkeypatch)
    token = CancelToken()
    token.add_commit_guard(lambda: True)
    with pytest.raises(ReplicationCancelled):
        run_replication(_plan("sqa guard", "sqa guard"), src.url, dst.url, cancel=token)
    assert spy.results == [len(ROWS)]
    assert dst.rows('SELECT COUNT(*) FROM "sqa guard"') == [(0,)]
    assert _leftovers(dst) == []


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_incremental_first_run_and_merge_through_arrow(request, monkeypatch, src_name):
    src_name = _via(monkeypatch, src_name)
    rows = _many(50)
    src = _source(request, src_name, "sqa inc", rows)
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa inc"')
    spy = Spy(monkeypatch)
    plan = _plan("sqa inc", "sqa inc", incremental_check_columns=("ts",), max_lastmod_offset=400_000_000)
    first = run_replication(plan, src.url, dst.url)
    with_ts = sum(1 for r in rows if r[NAMES.index("ts")] is not None)
    assert first.rows_inserted == with_ts and spy.results == [with_ts]
    q = src.q
    src.run(
        f"UPDATE {q('sqa inc')} SET {q('name')} = 'changed', {q('ts')} = '2025-06-01 00:00:00.5' "
        f"WHERE {q('id')} = 2"
    )
    second = run_replication(plan, src.url, dst.url)
    assert second.rows_updated == 1 and spy.results[-1] is not None and len(spy.results) == 2
    assert second.watermark_after == "2025-06-01T00:00:00.500000"
    assert dst.rows('SELECT name, ts FROM "sqa inc" WHERE id = 2') == [
        ("changed", "2025-06-01 00:00:00.500000")
    ]
    assert _leftovers(dst) == []


def test_without_the_extra_the_paths_below_run(request, monkeypatch):
    monkeypatch.setattr(sqlite_ingest, "available", lambda source: False)
    src = _source(request, "postgresql", "sqa none")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa none"')
    spy = Spy(monkeypatch)
    summary = run_replication(_plan("sqa none", "sqa none"), src.url, dst.url)
    assert spy.results == [] and summary.rows_inserted == len(ROWS)


def test_the_scratch_stays_out_of_the_destination_file(request, monkeypatch):
    """After a load the destination's connection has nothing attached any more (detached at COMMIT)."""
    from airflow_sync.engine.dialects.sqlite import SQLiteDialect

    attached: list[list[str]] = []
    real = SQLiteDialect.commit

    def commit(self: Any, conn: Any) -> None:
        real(self, conn)
        attached.append([r[1] for r in conn.execute("PRAGMA database_list").fetchall()])

    monkeypatch.setattr(SQLiteDialect, "commit", commit)
    src = _source(request, "postgresql", "sqa attach")
    dst = get_backend(request, "sqlite")
    dst.run('DROP TABLE IF EXISTS "sqa attach"')
    run_replication(_plan("sqa attach", "sqa attach"), src.url, dst.url)
    assert attached and all(not any(n.startswith("as_arrow_") for n in names) for names in attached)
    assert len(COLUMNS) == len(NAMES)


def test_arrow_loaded_first_leaves_mariadb_its_fast_reader():
    """pyarrow loaded before mysql-connector's C extension makes the extension fail to load (static TLS),
    and every later MariaDB read of the process falls back to PyMySQL: the Arrow paths load it first."""
    import subprocess
    import sys

    from airflow_sync.engine.dialects import mysql_read

    if not mysql_read.available():
        pytest.skip("mysql-connector's C extension is not installed")
    code = (
        "from airflow_sync.engine.dialects import sqlite_arrow, sqlite_ingest, mysql_read\n"
        "assert sqlite_arrow.available() and sqlite_ingest.available('postgresql')\n"
        "print(mysql_read.available())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("src_name", ["postgresql", "mysql", "mysql-lines"])
def test_small_loads_keep_the_paths_below(request, monkeypatch, src_name):
    """Below INGEST_MIN_ROWS the fixed cost of the Arrow path would outweigh its saving: the source is asked
    whether there are that many rows (it stops looking there) and the path below loads a smaller load."""
    src_name = _via(monkeypatch, src_name)
    src = _source(request, src_name, "sqa small", _many(30))
    dst = get_backend(request, "sqlite")
    spy = Spy(monkeypatch)
    for limit, table, expect in ((31, "sqa small a", []), (30, "sqa small b", [30])):
        monkeypatch.setattr(route, "INGEST_MIN_ROWS", limit)
        dst.run(f"DROP TABLE IF EXISTS {dst.q(table)}")
        assert run_replication(_plan("sqa small", table), src.url, dst.url).rows_inserted == 30
        assert spy.results == expect
    assert repr(_stored(dst, "sqa small a")) == repr(_stored(dst, "sqa small b"))

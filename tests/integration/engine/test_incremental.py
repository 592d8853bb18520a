"""Incremental mode against real servers: aware (timestamptz) and naive check columns, upsert by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend

CHECK = {"postgresql": "timestamptz", "mysql": "DATETIME(6)", "sqlite": "DATETIME"}


@pytest.mark.parametrize(
    ("src_name", "dst_name"), [("postgresql", "mysql"), ("mysql", "postgresql"), ("postgresql", "postgresql")]
)
def test_incremental_runs_upsert_changes_and_store_the_watermark_with_the_data(request, src_name, dst_name):
    src = get_backend(request, src_name)
    dst = get_backend(request, dst_name)
    s, t = f"inc_{src_name}", f"inc_{src_name}_to_{dst_name}"
    src.run(f"DROP TABLE IF EXISTS {s}", f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v VARCHAR(10), "
                                            f"modified {CHECK[src_name]})")  # fmt: skip
    dst.run(f"DROP TABLE IF EXISTS {t}")
    old = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    aware = src_name == "postgresql"
    stamps = [old + timedelta(hours=i) for i in range(20)]
    rows = [(i, f"v{i}", ts if aware else ts.replace(tzinfo=None)) for i, ts in enumerate(stamps)]
    src.many(f"INSERT INTO {s} VALUES (%s, %s, %s)", rows)
    plan = ReplicationPlan(job_name="inc", query_id=t, source=TableRef((s,)), destination=t, batch_size=6)
    first = run_replication(plan, src.url, dst.url)
    assert first.mode == "incremental" and first.rows_inserted == 20
    # PG -> PG with identical types is one in-engine COPY pipe, otherwise batches of batch_size rows
    assert first.batches == (1 if src_name == dst_name else 4)
    if aware:
        assert datetime.fromisoformat(first.watermark_after).tzinfo is not None

    recent = datetime.now(UTC) - timedelta(minutes=1)
    value = recent if aware else (recent.astimezone().replace(tzinfo=None))
    src.run(f"UPDATE {s} SET v = 'upd', modified = %s WHERE id = 5", params=(value,))
    src.run(f"INSERT INTO {s} VALUES (100, 'new', %s)", params=(value,))
    second = run_replication(plan, src.url, dst.url)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (2, 1, 1)
    assert dst.rows(f"SELECT id, v FROM {t} ORDER BY id") == src.rows(f"SELECT id, v FROM {s} ORDER BY id")
    state = dst.rows(
        "SELECT watermark FROM _airflow_sync_state WHERE job = 'inc' AND " + dst.q("query") + f" = '{t}'"
    )
    assert state == [(second.watermark_after,)]


@pytest.mark.parametrize("backend_name", ["postgresql", "mysql"])
@pytest.mark.parametrize(
    "dest_key",
    ["PRIMARY KEY", "", "PRIMARY KEY, UNIQUE (v, id)"],
    ids=["keyed-destination", "unkeyed-destination", "second-unique-index"],
)
def test_incremental_merge_counts_only_changed_rows(request, backend_name, dest_key):
    """Changed rows are updated, new ones inserted, re-read unchanged ones left alone — whether the
    destination has a unique key (one upsert statement) or not (UPDATE then INSERT). MySQL's upsert fires
    on any unique index, so a second one sends it back to the two statements."""
    src = get_backend(request, backend_name)
    dst = get_backend(request, backend_name)
    tag = {"PRIMARY KEY": "k", "": "nk"}.get(dest_key, "u2")
    s, t = "inc_merge_src", f"inc_merge_dst_{tag}"
    cols = "v varchar(20), modified " + ("timestamp" if backend_name == "postgresql" else "DATETIME(6)")
    src.run(f"DROP TABLE IF EXISTS {s}", f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, {cols})")
    key, _, extra = dest_key.partition(", ")
    dst.run(
        f"DROP TABLE IF EXISTS {t}",
        f"CREATE TABLE {t} (id INTEGER {key}, {cols}{', ' + extra if extra else ''})",
    )
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    src.many(f"INSERT INTO {s} VALUES (%s, %s, %s)", [(i, f"v{i}", recent) for i in range(10)])
    plan = ReplicationPlan(job_name="incm", query_id=t, source=TableRef((s,)), destination=t, use_gmt=True)
    first = run_replication(plan, src.url, dst.url)
    assert (first.rows_inserted, first.rows_updated) == (10, 0)

    # the watermark stays at run start - 300 s, so all ten rows are read again; two of them changed
    src.run(
        f"UPDATE {s} SET v = 'changed' WHERE id IN (3, 4)", f"INSERT INTO {s} VALUES (50, 'new', '{recent}')"
    )
    second = run_replication(plan, src.url, dst.url)
    assert second.rows_read == 11
    assert (second.rows_inserted, second.rows_updated) == (1, 2)
    assert dst.rows(f"SELECT id, v FROM {t} ORDER BY id") == src.rows(f"SELECT id, v FROM {s} ORDER BY id")


def test_mysql_merge_never_overwrites_a_row_matched_by_another_unique_index(request):
    """ON DUPLICATE KEY UPDATE would update the row that holds the same ``v`` (another unique index) in
    place of inserting the new key, silently losing it: the merge must fail on the duplicate instead, and
    change nothing."""
    from airflow_sync.exceptions import TerminalReplicationError

    src = get_backend(request, "mysql")
    dst = get_backend(request, "mysql")
    s, t = "inc_uq_src", "inc_uq_dst"
    src.run(
        f"DROP TABLE IF EXISTS {s}",
        f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v varchar(20), modified DATETIME(6))",
    )
    dst.run(
        f"DROP TABLE IF EXISTS {t}",
        f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, v varchar(20) UNIQUE, modified DATETIME(6))",
    )
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    src.many(f"INSERT INTO {s} VALUES (%s, %s, %s)", [(i, f"v{i}", recent) for i in range(5)])
    plan = ReplicationPlan(job_name="incu", query_id=t, source=TableRef((s,)), destination=t, use_gmt=True)
    run_replication(plan, src.url, dst.url)
    before = dst.rows(f"SELECT id, v FROM {t} ORDER BY id")
    # row 3 leaves the source (incremental runs do not see deletes) and a new key takes over its ``v``
    src.run(
        f"DELETE FROM {s} WHERE id = 3",
        f"INSERT INTO {s} VALUES (50, 'v3', '{recent + timedelta(seconds=1)}')",
    )
    with pytest.raises(TerminalReplicationError):
        run_replication(plan, src.url, dst.url)
    assert dst.rows(f"SELECT id, v FROM {t} ORDER BY id") == before


@pytest.mark.parametrize("found_rows", [False, True], ids=["default-client", "client-found-rows"])
def test_mysql_upsert_counts_from_the_statement_itself(mysql_url, found_rows):
    """Inserted and updated rows come from the statement's affected rows and its info text; unchanged
    rows count as neither. A client that counts found (matched) rows cannot tell unchanged rows from
    inserted ones: then no upsert (the two-statement merge runs)."""
    from pymysql.constants import CLIENT
    from sqlalchemy.engine import make_url

    from airflow_sync.engine.dialects.mysql import MySQLDialect
    from airflow_sync.engine.dialects.mysql_infile import InfileConnection
    from airflow_sync.engine.dialects.mysql_merge import upsert_from_stage

    d = MySQLDialect(make_url(mysql_url))
    conn = InfileConnection(**d._params(), client_flag=CLIENT.FOUND_ROWS if found_rows else 0)
    try:
        d.execute(conn, "DROP TABLE IF EXISTS up_t")
        d.execute(conn, "CREATE TABLE up_t (id INT PRIMARY KEY, v VARCHAR(10))")
        d.execute(conn, "INSERT INTO up_t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        stage = d.create_stage(conn, None, "up_t", ["id", "v"], "counts", ["id"])
        # 1 unchanged, 2 updated (2, 3), 3 inserted (4, 5, 6)
        d.execute(
            conn, f"INSERT INTO {stage} VALUES (1, 'a'), (2, 'B'), (3, 'C'), (4, 'd'), (5, 'e'), (6, 'f')"
        )
        counts = upsert_from_stage(d, conn, "`up_t`", stage, ["id", "v"], ["id"])
        if found_rows:
            assert counts is None
            assert d.scalar(conn, "SELECT COUNT(*) FROM up_t") == 3  # and nothing written
            return
        assert counts == (3, 2, 6)  # and the rows read (the statement's "Records")
        conn.commit()
        assert d.scalar(conn, "SELECT GROUP_CONCAT(v ORDER BY id SEPARATOR '') FROM up_t") == "aBCdef"
    finally:
        conn.close()


def test_mysql_same_server_window_upserts_without_a_stage_and_honours_the_commit_guard(request, monkeypatch):
    """Source and destination on one MariaDB server: each window is one INSERT ... SELECT ... ON DUPLICATE
    KEY UPDATE from the source table (no stage written and read back); a cancel reported at commit time
    still leaves the destination as it was."""
    from airflow_sync.engine.cancel import CancelToken
    from airflow_sync.engine.dialects.mysql import MySQLDialect
    from airflow_sync.exceptions import ReplicationCancelled

    db = get_backend(request, "mysql")
    s, t = "inc_ss_src", "inc_ss_dst"
    db.run(
        f"DROP TABLE IF EXISTS {s}",
        f"DROP TABLE IF EXISTS {t}",
        f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v varchar(20), modified DATETIME(6))",
    )
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    db.many(f"INSERT INTO {s} VALUES (%s, %s, %s)", [(i, f"v{i}", recent) for i in range(10)])
    plan = ReplicationPlan(job_name="incss", query_id=t, source=TableRef((s,)), destination=t, use_gmt=True)
    run_replication(plan, db.url, db.url)
    stages: list[str] = []
    real = MySQLDialect.create_stage
    monkeypatch.setattr(
        MySQLDialect, "create_stage", lambda self, *a, **k: stages.append(a[2]) or real(self, *a, **k)
    )
    db.run(
        f"UPDATE {s} SET v = 'changed' WHERE id IN (3, 4)", f"INSERT INTO {s} VALUES (50, 'new', '{recent}')"
    )
    before = db.rows(f"SELECT id, v FROM {t} ORDER BY id")
    token = CancelToken()
    token.add_commit_guard(lambda: True)
    with pytest.raises(ReplicationCancelled):
        run_replication(plan, db.url, db.url, cancel=token)
    assert db.rows(f"SELECT id, v FROM {t} ORDER BY id") == before
    second = run_replication(plan, db.url, db.url)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (11, 1, 2)
    assert stages == []
    assert db.rows(f"SELECT id, v FROM {t} ORDER BY id") == db.rows(f"SELECT id, v FROM {s} ORDER BY id")

"""What an incremental run costs beyond moving its rows: statements it can do without."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_sync.engine.dialects.postgres import PostgresDialect
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.statement import TableRef
from tests.integration.engine.conftest import get_backend


@pytest.mark.parametrize(
    ("dest_key", "analysed"), [("PRIMARY KEY", False), ("", True)], ids=["keyed", "unkeyed"]
)
def test_postgres_incremental_window_analyses_its_stage_only_for_the_join_merge(
    request, monkeypatch, dest_key, analysed
):
    """The upsert (a unique key on the destination) reads the stage once and probes the key per row: no
    ANALYZE of the stage (~20 ms per window). Without a key the UPDATE ... FROM and anti-join INSERT plan
    joins, and the stage still gets its statistics. Either way the destination ends equal to the source."""
    db = get_backend(request, "postgresql")
    s, t = "inc_an_src", f"inc_an_dst_{'k' if dest_key else 'nk'}"
    db.run(
        f"DROP TABLE IF EXISTS {s}",
        f"DROP TABLE IF EXISTS {t}",
        f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v varchar(20), modified timestamp)",
        f"CREATE TABLE {t} (id INTEGER {dest_key}, v varchar(20), modified timestamp)",
    )
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    db.many(f"INSERT INTO {s} VALUES (%s, %s, %s)", [(i, f"v{i}", recent) for i in range(10)])
    plan = ReplicationPlan(job_name="incan", query_id=t, source=TableRef((s,)), destination=t, use_gmt=True)
    run_replication(plan, db.url, db.url)  # into an empty table: rows go straight in, no stage
    analysed_stages: list[str] = []
    real = PostgresDialect.stage_loaded
    monkeypatch.setattr(
        PostgresDialect,
        "stage_loaded",
        lambda self, c, stage: analysed_stages.append(stage) or real(self, c, stage),
    )
    db.run(
        f"UPDATE {s} SET v = 'changed' WHERE id IN (3, 4)", f"INSERT INTO {s} VALUES (50, 'new', '{recent}')"
    )
    second = run_replication(plan, db.url, db.url)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (11, 1, 2)
    assert len(analysed_stages) == (1 if analysed else 0)
    assert db.rows(f"SELECT id, v FROM {t} ORDER BY id") == db.rows(f"SELECT id, v FROM {s} ORDER BY id")


def test_sqlite_upsert_in_key_order_counts_and_stores_rows_arriving_in_any_order(request):
    """The SQLite upsert reads its stage in key order (the target's pages once each, in file order) while
    the rows arrive in check-column order: new, changed and unchanged rows interleaved against the key
    still come out counted and stored as in the source."""
    src = get_backend(request, "postgresql")
    dst = get_backend(request, "sqlite")
    s, t = "inc_ord_src", "inc_ord_dst"
    src.run(
        f"DROP TABLE IF EXISTS {s}",
        f"CREATE TABLE {s} (id INTEGER PRIMARY KEY, v varchar(20), modified timestamp)",
    )
    dst.run(f"DROP TABLE IF EXISTS {t}")
    base = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=200)
    # the check column runs against the key: id 99 is the oldest row, id 0 the newest
    src.many(
        f"INSERT INTO {s} VALUES (%s, %s, %s)",
        [(i, f"v{i}", base + timedelta(seconds=100 - i)) for i in range(100)],
    )
    plan = ReplicationPlan(job_name="incord", query_id=t, source=TableRef((s,)), destination=t, use_gmt=True)
    assert run_replication(plan, src.url, dst.url).rows_inserted == 100
    # changed and new rows, their check values again against the key, after the stored watermark (the
    # newest value of the first run: id 0's, which is read again, unchanged)
    later = base + timedelta(seconds=120)
    src.run(
        f"UPDATE {s} SET v = 'changed', modified = %s + (100 - id) * interval '0.5 second' WHERE id %% 7 = 3",
        params=(later,),
    )
    src.many(
        f"INSERT INTO {s} VALUES (%s, %s, %s)",
        [(i, "new", later + timedelta(seconds=(130 - i) / 2)) for i in range(100, 121)],
    )
    second = run_replication(plan, src.url, dst.url)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (36, 21, 14)
    assert dst.rows(f"SELECT id, v FROM {t} ORDER BY id") == src.rows(f"SELECT id, v FROM {s} ORDER BY id")

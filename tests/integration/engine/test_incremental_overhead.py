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

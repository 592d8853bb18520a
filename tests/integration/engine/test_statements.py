"""REPLICATE statement features end to end: user SELECT (expressions, aliases, WHERE), explicit columns and
PRIMARY KEY, CacheSchema created when missing, awkward identifiers."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.plan import ReplicationPlan
from airflow_sync.engine.replicate import run_replication
from airflow_sync.jobs.replicate import parse_replicate
from tests.integration.engine.conftest import get_backend


def plan_from(text: str, **kw) -> ReplicationPlan:
    stmt = parse_replicate(text)
    return ReplicationPlan(
        job_name=kw.pop("job_name", "stmt"),
        query_id=kw.pop("query_id", "q"),
        source=stmt.source,
        destination=stmt.target.name,
        select=stmt.select,
        columns=stmt.columns,
        primary_key=stmt.primary_key,
        **kw,
    )


def _make_source(b, schema: str | None) -> None:
    if b.name == "postgresql":
        b.run(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        t = f'"{schema}"."Src"'
    elif b.name == "mysql":
        b.run(f"CREATE DATABASE IF NOT EXISTS `{schema}` CHARACTER SET utf8mb4")
        t = f"`{schema}`.`Src`"
    else:
        t = '"Src"'
    b.run(f"DROP TABLE IF EXISTS {t}")
    b.run(
        f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, qty INTEGER, price DECIMAL(8,2), name VARCHAR(20), "
        "status VARCHAR(10))"
    )
    rows = [
        (1, 2, "1.25", "ab", "open"),
        (2, 1, "9.99", "cd", "open"),
        (3, 5, "2.00", "ef", "closed"),
        (4, 3, "0.10", "gh%", "open"),
    ]
    b.many(f"INSERT INTO {t} VALUES ({', '.join([b.mark] * 5)})", rows)


@pytest.mark.parametrize(
    ("src_name", "dst_name"),
    [("postgresql", "sqlite"), ("mysql", "postgresql"), ("sqlite", "mysql"), ("postgresql", "mysql")],
)
def test_user_select_with_expressions_aliases_where_and_explicit_key(request, src_name, dst_name):
    src = get_backend(request, src_name)
    dst = get_backend(request, dst_name)
    _make_source(src, "my schema")
    text = (
        "REPLICATE [Dest T] (id INT, total DECIMAL(12,2), PRIMARY KEY (id)) "
        "SELECT id, qty * price AS total, UPPER(name) AS [Up], 'a''b%' AS lit FROM [my schema].[Src] "
        "WHERE status = 'open' AND qty > 1"
    )
    # MySQL "schemas" are databases outside the per-session test database: use a unique one, drop it after
    cache = f"cache schema {uuid.uuid4().hex[:6]}"
    plan = plan_from(text, destination_schema=cache)
    if dst_name == "mysql":
        request.addfinalizer(lambda: dst.run(f"DROP DATABASE IF EXISTS `{cache}`"))
    summary = run_replication(plan, src.url, dst.url)
    assert summary.rows_inserted == 2
    d = dialect_for(dst.url)
    table = d.qualify(cache, "Dest T")
    rows = dst.rows(
        f"SELECT {d.quote_ident('id')}, {d.quote_ident('total')}, {d.quote_ident('Up')}, "
        f"{d.quote_ident('lit')} FROM {table} ORDER BY 1"
    )
    assert [(r[0], Decimal(str(r[1])), r[2], r[3]) for r in rows] == [
        (1, Decimal("2.50"), "AB", "a'b%"),
        (4, Decimal("0.30"), "GH%", "a'b%"),
    ]
    conn = d.connect()
    try:
        schema = d.reflect(conn, cache, "Dest T")
    finally:
        conn.close()
    assert schema is not None and schema.primary_key == ("id",)
    assert str(schema.column("total").type) == "decimal(12,2)"

    src.run(f"UPDATE {dialect_for(src.url).qualify('my schema', 'Src')} SET status = 'closed' WHERE id = 4")
    summary = run_replication(plan, src.url, dst.url)
    assert (summary.rows_deleted, summary.rows_updated, summary.rows_inserted) == (1, 0, 0)


@pytest.mark.parametrize("dst_name", ["sqlite", "postgresql", "mysql"])
def test_awkward_identifiers_are_quoted_everywhere(request, dst_name):
    src = get_backend(request, "sqlite")
    dst = get_backend(request, dst_name)
    src.run('DROP TABLE IF EXISTS "order"')
    src.run(
        'CREATE TABLE "order" ("select" INTEGER PRIMARY KEY, "a b.c" TEXT, "we""ird`" TEXT, "pct%s" TEXT)'
    )
    src.run("INSERT INTO \"order\" VALUES (1, 'x', 'y', 'z')")
    dest = 'od"d.na`me %s'
    plan = ReplicationPlan(
        job_name="ids", query_id="q", source=parse_replicate("REPLICATE [order]").source, destination=dest
    )
    run_replication(plan, src.url, dst.url)
    run_replication(plan, src.url, dst.url)
    d = dialect_for(dst.url)
    cols = ", ".join(d.quote_ident(c) for c in ("select", "a b.c", 'we"ird`', "pct%s"))
    assert dst.rows(f"SELECT {cols} FROM {d.quote_ident(dest)}") == [(1, "x", "y", "z")]


@pytest.mark.parametrize("dst_name", ["sqlite", "postgresql", "mysql"])
def test_types_the_engine_does_not_model_travel_as_their_text(request, dst_name):
    src = get_backend(request, "postgresql")
    dst = get_backend(request, dst_name)
    src.run(
        "DROP TABLE IF EXISTS odd_types",
        "CREATE TABLE odd_types (id integer PRIMARY KEY, ip inet, tags int[], span interval, t time, "
        "u uuid, n numeric, c char(3), j json)",
        "INSERT INTO odd_types VALUES (1, '10.0.0.1/32', '{1,2,3}', '1 day 02:00:00', '23:59:59.5', "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 123456789012345678901234567890.123456789, 'ab', "
        "'{\"k\": [1, 2]}'), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    table = f"odd_types_{dst_name}"
    dst.run(f"DROP TABLE IF EXISTS {table}")
    source = parse_replicate("REPLICATE odd_types").source
    plan = ReplicationPlan(job_name="odd", query_id=table, source=source, destination=table)
    run_replication(plan, src.url, dst.url)
    assert run_replication(plan, src.url, dst.url).rows_updated == 0
    row = dst.rows(f"SELECT ip, tags, span, t, u, n, c, j FROM {table} WHERE id = 1")[0]
    assert [str(v) for v in row[:3]] == ["10.0.0.1/32", "{1,2,3}", "1 day 02:00:00"]
    assert str(row[3]).startswith("23:59:59.5")
    assert str(row[4]) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert Decimal(str(row[5])) == Decimal("123456789012345678901234567890.123456789")
    assert row[6].rstrip() == "ab"
    assert json.loads(row[7]) == {"k": [1, 2]} if isinstance(row[7], str) else row[7] == {"k": [1, 2]}
    assert dst.rows(f"SELECT ip, tags, n FROM {table} WHERE id = 2") == [(None, None, None)]

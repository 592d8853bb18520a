"""Jobs that start together against a new destination all create ``_airflow_sync_state`` (and a schema, or
even the same table): only one CREATE can win, and the others must go on, not fail the query (seen on the
Celery cluster: three jobs started at once, one failed with "relation already exists")."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from airflow_sync.engine.ddl import ensure_table
from airflow_sync.engine.dialects import dialect_for
from airflow_sync.engine.state import STATE_TABLE, ensure_state_table
from airflow_sync.engine.types import ColType, Column
from tests import services


def _pg_waits_on_a_lock(conn, pid: int) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        row = cur.fetchone()
    conn.rollback()
    return bool(row) and row[0] == "Lock"


@pytest.fixture
def pg_race(pg_url):
    """Three sessions on PostgreSQL (winner, loser, watcher) and a fresh schema name, all cleaned up."""
    d = dialect_for(pg_url)
    schema = f"st_{uuid.uuid4().hex[:10]}"
    conns = [d.connect() for _ in range(3)]
    yield d, schema, *conns
    for c in conns:
        d.rollback(c)
        d.close(c)
    with d.connect() as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        c.commit()


def _race(d, winner, loser, watcher, create) -> None:
    """``create(winner)`` is done and not committed; ``create(loser)`` finds nothing, waits on the winner's
    lock, and must go on once the winner commits."""
    create(winner)
    failure: list[BaseException] = []

    def lose() -> None:
        try:
            create(loser)
        except BaseException as exc:  # reported below
            failure.append(exc)

    racing = threading.Thread(target=lose)
    racing.start()
    deadline = time.monotonic() + 30
    while not _pg_waits_on_a_lock(watcher, loser.info.backend_pid):
        assert racing.is_alive() and time.monotonic() < deadline, failure
    d.commit(winner)
    racing.join(30)
    assert not failure, failure
    d.commit(loser)


def test_postgresql_a_create_that_lost_the_race_keeps_the_tables_created_before_it(pg_race):
    d, schema, winner, loser, watcher = pg_race
    d.execute(winner, f'CREATE SCHEMA "{schema}"')
    d.commit(winner)
    d.execute(loser, f'CREATE TABLE "{schema}"."before_it" (id int)')  # the destination table, same txn
    _race(d, winner, loser, watcher, lambda conn: ensure_state_table(d, conn, schema))
    assert d.reflect(watcher, schema, "before_it") is not None  # the savepoint kept it
    assert d.reflect(watcher, schema, STATE_TABLE) is not None


def test_postgresql_jobs_creating_the_same_new_schema_together_all_go_on(pg_race):
    d, schema, winner, loser, watcher = pg_race
    _race(d, winner, loser, watcher, lambda conn: d.create_schema(conn, schema))
    assert (
        d.scalar(watcher, "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)) == 1
    )


def test_postgresql_two_jobs_creating_the_same_table_one_creates_it_the_other_finds_it(pg_race):
    """The loser must not take the table for one it created empty (a first load skips the stage then)."""
    d, schema, winner, loser, watcher = pg_race
    d.execute(winner, f'CREATE SCHEMA "{schema}"')
    d.commit(winner)
    columns = [Column("id", ColType("int64"), False), Column("name", ColType("string", length=20))]
    made = {}

    def create(conn) -> None:
        made[conn is winner] = ensure_table(d, conn, schema, "shared", columns, ("id",), alter_schema=False)

    _race(d, winner, loser, watcher, create)
    assert made[True].created and not made[False].created
    assert [c.name for c in made[False].columns] == ["id", "name"]


def test_mariadb_a_create_that_lost_the_race_goes_on(monkeypatch):
    name = f"as_st_{uuid.uuid4().hex[:10]}"
    url = services.create_mysql_database(name)
    d = dialect_for(url)
    other, late = d.connect(), d.connect()
    try:
        ensure_state_table(d, other, None)  # another job's run created it ...
        original = d.reflect
        looked: list[str] = []

        def stale_then_real(conn, schema, table):  # ... after this one had looked
            if conn is late and not looked:
                looked.append(table)
                return None
            return original(conn, schema, table)

        monkeypatch.setattr(d, "reflect", stale_then_real)
        ensure_state_table(d, late, None)
        assert looked == [STATE_TABLE] and original(late, None, STATE_TABLE) is not None
        # anything else still fails: no table, and the CREATE refused for another reason
        monkeypatch.setattr(d, "create_table_sql", lambda *a, **k: "CREATE TABLE `x` (broken")
        monkeypatch.setattr(d, "reflect", lambda *a: None)
        with pytest.raises(Exception, match="syntax"):
            ensure_state_table(d, late, None)
    finally:
        d.close(other)
        d.close(late)
        services.drop_mysql_database(name)

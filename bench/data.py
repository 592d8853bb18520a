"""The benchmark table: DDL per kind, fast generation of N rows, and the 1% change for incremental runs.

Every kind holds the same values (the formulas below are written once per engine): a bigint key and eight
mixed-type columns with NULLs, unicode text and fractional timestamps, plus ``updated_at`` as the
incremental check column. Values are in the past so a run's watermark rule never hides them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from bench.endpoints import Endpoint, Kind

COLUMNS: tuple[str, ...] = (
    "id",
    "qty",
    "amount",
    "ratio",
    "label",
    "flag",
    "created_at",
    "day",
    "updated_at",
)

_TYPES: dict[Kind, tuple[str, ...]] = {
    "postgres": (
        "bigint PRIMARY KEY",
        "integer",
        "numeric(12,2)",
        "double precision",
        "varchar(64)",
        "boolean",
        "timestamp",
        "date",
        "timestamp NOT NULL",
    ),
    "mariadb": (
        "BIGINT PRIMARY KEY",
        "INT",
        "DECIMAL(12,2)",
        "DOUBLE",
        "VARCHAR(64)",
        "BOOLEAN",
        "DATETIME(6)",
        "DATE",
        "DATETIME(6) NOT NULL",
    ),
    "sqlite": (
        "INTEGER PRIMARY KEY",
        "INTEGER",
        "NUMERIC(12,2)",
        "DOUBLE",
        "VARCHAR(64)",
        "BOOLEAN",
        "TIMESTAMP",
        "DATE",
        "TIMESTAMP NOT NULL",
    ),
}

_PG_INSERT = """
INSERT INTO {t} SELECT
  g,
  CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7919) % 100000 - 50000 END,
  CASE WHEN g % 23 = 0 THEN NULL ELSE ((g * 104729) % 200000000 - 100000000) / 100.0 END,
  CASE WHEN g % 29 = 0 THEN NULL ELSE g::float8 / 7 END,
  CASE WHEN g % 31 = 0 THEN NULL
       ELSE CASE WHEN g % 11 = 0 THEN 'Ärger-' ELSE 'item-' END || g || '-' || md5(g::text) END,
  CASE WHEN g % 37 = 0 THEN NULL ELSE g % 3 = 0 END,
  CASE WHEN g % 41 = 0 THEN NULL ELSE timestamp '2020-01-01' + g * interval '1500 milliseconds' END,
  date '2000-01-01' + (g % 20000)::int,
  timestamp '2021-01-01' + g * interval '1 second'
FROM generate_series(1::bigint, {n}) AS g
"""

_MY_INSERT = """
INSERT INTO {t} SELECT
  g,
  CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7919) % 100000 - 50000 END,
  CASE WHEN g % 23 = 0 THEN NULL ELSE ((g * 104729) % 200000000 - 100000000) / 100 END,
  CASE WHEN g % 29 = 0 THEN NULL ELSE CAST(g AS DOUBLE) / 7 END,
  CASE WHEN g % 31 = 0 THEN NULL
       ELSE CONCAT(CASE WHEN g % 11 = 0 THEN 'Ärger-' ELSE 'item-' END, g, '-', MD5(g)) END,
  CASE WHEN g % 37 = 0 THEN NULL ELSE g % 3 = 0 END,
  CASE WHEN g % 41 = 0 THEN NULL
       ELSE TIMESTAMP'2020-01-01 00:00:00' + INTERVAL (g * 1500000) MICROSECOND END,
  DATE'2000-01-01' + INTERVAL (g % 20000) DAY,
  TIMESTAMP'2021-01-01 00:00:00' + INTERVAL g SECOND
FROM (SELECT CAST(seq AS SIGNED) AS g FROM seq_{lo}_to_{hi}) AS s
"""

_T0 = datetime(2020, 1, 1)
_T1 = datetime(2021, 1, 1)
_D0 = date(2000, 1, 1)


def sqlite_ts(value: datetime) -> str:
    """SQLite has no timestamp type: store the fixed-width text form SQLAlchemy uses (sorts correctly)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_rows(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
    for g in range(lo, hi + 1):
        yield (
            g,
            None if g % 17 == 0 else (g * 7919) % 100000 - 50000,
            # NUMERIC affinity stores this as REAL; the checksum compares it at scale 2.
            None if g % 23 == 0 else f"{((g * 104729) % 200000000 - 100000000) / 100:.2f}",
            None if g % 29 == 0 else g / 7,
            None
            if g % 31 == 0
            else f"{'Ärger-' if g % 11 == 0 else 'item-'}{g}-{hashlib.md5(str(g).encode()).hexdigest()}",
            None if g % 37 == 0 else int(g % 3 == 0),
            None if g % 41 == 0 else sqlite_ts(_T0 + timedelta(milliseconds=1500 * g)),
            (_D0 + timedelta(days=g % 20000)).isoformat(),
            sqlite_ts(_T1 + timedelta(seconds=g)),
        )


def create_table_sql(kind: Kind, table: str) -> str:
    cols = ", ".join(f"{c} {t}" for c, t in zip(COLUMNS, _TYPES[kind], strict=True))
    suffix = " ENGINE=InnoDB" if kind == "mariadb" else ""
    return f"CREATE TABLE {table} ({cols}){suffix}"


def create_table(ep: Endpoint, table: str) -> None:
    """(Re)create an empty benchmark-shaped table (source, or a peer's destination)."""
    conn = ep.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(create_table_sql(ep.kind, table))
        conn.commit()
    finally:
        conn.close()


#: an incremental source is indexed on its check column (CData Sync's guidance for LastModified columns);
#: without it every incremental read scans the whole table
_INDEX = "CREATE INDEX {t}_updated_at ON {t} (updated_at)"


def generate(ep: Endpoint, table: str, rows: int) -> None:
    """Create ``table`` and fill it with ``rows`` rows, server-side where the engine can."""
    create_table(ep, table)
    conn = ep.connect()
    try:
        cur = conn.cursor()
        if ep.kind == "postgres":
            cur.execute(_PG_INSERT.format(t=table, n=rows))
            cur.execute(_INDEX.format(t=table))
            conn.commit()
            conn.autocommit = True
            cur.execute(f"VACUUM ANALYZE {table}")
        elif ep.kind == "mariadb":
            step = 1_000_000  # keeps each INSERT ... SELECT's undo log moderate
            for lo in range(1, rows + 1, step):
                cur.execute(_MY_INSERT.format(t=table, lo=lo, hi=min(lo + step - 1, rows)))
                conn.commit()
            cur.execute(_INDEX.format(t=table))
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
        else:
            ph = ", ".join("?" * len(COLUMNS))
            gen = _sqlite_rows(1, rows)
            cur.executemany(f"INSERT INTO {table} VALUES ({ph})", gen)
            cur.execute(_INDEX.format(t=table))
            conn.commit()
    finally:
        conn.close()


def change_one_percent(ep: Endpoint, table: str, when: datetime) -> int:
    """Update every 100th row (``id % 100 = 7``): new amount and label, ``updated_at = when``.

    :param when: naive UTC timestamp, after the full load's run start and before the incremental run
    :return: number of rows changed
    """
    conn = ep.connect()
    try:
        cur = conn.cursor()
        if ep.kind == "postgres":
            cur.execute(
                f"UPDATE {table} SET amount = amount + 1, label = 'upd-' || id, updated_at = %s "
                "WHERE id %% 100 = 7",
                (when,),
            )
        elif ep.kind == "mariadb":
            cur.execute(
                f"UPDATE {table} SET amount = amount + 1, label = CONCAT('upd-', id), updated_at = %s "
                "WHERE id %% 100 = 7",
                (when,),
            )
        else:
            cur.execute(
                f"UPDATE {table} SET amount = amount + 1, label = 'upd-' || id, updated_at = ? "
                "WHERE id % 100 = 7",
                (sqlite_ts(when),),
            )
        changed = int(cur.rowcount)
        conn.commit()
        return changed
    finally:
        conn.close()


def update_changed_rows_directly(ep: Endpoint, table: str, rows: int, when: datetime) -> tuple[int, float]:
    """The floor of any incremental run: the destination updates 1% of its rows, by key, itself.

    Changes the same columns as :func:`change_one_percent`, in the rows next to the changed ones, with the
    keys listed in the statement: no transfer, no staging, no change detection — only the destination's
    own cost of writing 1% of the rows scattered over the table, which no replication tool can undercut.

    :return: rows updated and seconds (statement and commit)
    """
    import time

    # the neighbours of the changed rows (id % 100 = 8): as many, as scattered, and as cold in the caches as
    # the rows the incremental run wrote — those would be warm right after it
    ids = ",".join(str(i) for i in range(8, rows + 1, 100))
    label = "'dir-' || id" if ep.kind != "mariadb" else "CONCAT('dir-', id)"
    ts = sqlite_ts(when) if ep.kind == "sqlite" else when.isoformat(" ")
    sql = f"UPDATE {table} SET amount = amount + 1, label = {label}, updated_at = '{ts}' WHERE id IN ({ids})"
    conn = ep.connect()
    try:
        cur = conn.cursor()
        t0 = time.perf_counter()
        cur.execute(sql)
        conn.commit()
        return int(cur.rowcount), time.perf_counter() - t0
    finally:
        conn.close()


def checkpoint(ep: Endpoint) -> None:
    """PostgreSQL: a CHECKPOINT, so that the next write of each page logs its full image again (untimed).

    The first change of a page after a checkpoint writes the whole page to the WAL (full_page_writes): the
    incremental run pays that for every page it updates, and the floor, updating the same pages right
    after, would not. A checkpoint before each puts both on the same footing. Other engines: nothing.
    """
    if ep.kind != "postgres":
        return
    conn = ep.connect()
    try:
        conn.autocommit = True
        conn.cursor().execute("CHECKPOINT")
    finally:
        conn.close()


def drop_table(ep: Endpoint, table: str) -> None:
    conn = ep.connect()
    try:
        conn.cursor().execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
    finally:
        conn.close()


def dump_for_bulk_load(ep: Endpoint, table: str, path: str) -> None:
    """Write ``table`` to ``path`` in the engine's bulk-load input format (for the write limits, untimed):
    PostgreSQL binary COPY, MariaDB tab-separated text (``\\N`` for NULL, booleans as 0/1)."""
    import subprocess

    from bench.endpoints import MY_HOST, MY_PORT, MY_USER, PG_HOST, PG_PORT, PG_USER

    cols = ", ".join(COLUMNS)
    if ep.kind == "postgres":
        copy = f"\\copy (SELECT {cols} FROM {table}) TO '{path}' (FORMAT binary)"
        cmd = ["psql", "-X", "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", ep.database]
        subprocess.run([*cmd, "-v", "ON_ERROR_STOP=1", "-c", copy], check=True)
        return
    # the bench's values hold no tab, newline or backslash: no escaping needed
    fields = ", ".join(f"IFNULL(CAST({c} AS CHAR), '\\\\N')" for c in COLUMNS)
    sql = f"SELECT CONCAT_WS(CHAR(9), {fields}) FROM {table}"
    cmd = ["mariadb", "-h", MY_HOST, "-P", str(MY_PORT), "-u", MY_USER, "--batch", "--raw", "--quick"]
    with open(path, "wb") as out:
        subprocess.run([*cmd, "--skip-column-names", "-e", sql, ep.database], check=True, stdout=out)

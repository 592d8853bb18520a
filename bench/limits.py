"""The physical limits of each engine on this machine: the fastest read of the source table alone and the
fastest bulk write of its rows alone, each in a fresh process, no replication tool involved.

- read: PostgreSQL ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` by ``psql`` into /dev/null; MariaDB the
  ``mariadb`` client streaming the rows (``--quick``) into /dev/null; SQLite the rows fetched by Python's
  ``sqlite3`` module and dropped (faster than the ``sqlite3`` shell's text output).
- write: PostgreSQL ``COPY ... FROM`` a binary COPY file by ``psql``; MariaDB ``LOAD DATA LOCAL INFILE`` of
  a tab-separated file by the ``mariadb`` client; SQLite ``executemany`` of rows already in memory in one
  transaction (the fastest way rows from elsewhere get in) and, from a SQLite source, ``ATTACH`` +
  ``INSERT ... SELECT`` (no rows leave SQLite).

The files and in-memory rows are prepared before the clock starts (not timed).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from typing import Any


def _psql(spec: dict[str, Any], db: str) -> list[str]:
    return ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", spec["pg_host"], "-p", str(spec["pg_port"]),
            "-U", spec["pg_user"], "-d", db]  # fmt: skip


def _mariadb(spec: dict[str, Any], db: str, *extra: str) -> list[str]:
    return ["mariadb", "-h", spec["my_host"], "-P", str(spec["my_port"]), "-u", spec["my_user"], *extra, db]


def _count_lines(cmd: list[str], stdin: Any = None) -> tuple[int, float]:
    """Run ``cmd``, count the lines it prints without keeping them; (lines, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=stdin)
    assert proc.stdout is not None
    n = 0
    while chunk := proc.stdout.read(1 << 20):
        n += chunk.count(b"\n")
    if proc.wait():
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}")
    return n, time.perf_counter() - t0


def read_limit(spec: dict[str, Any]) -> dict[str, Any]:
    kind, cols, table = spec["kind"], ", ".join(spec["columns"]), spec["table"]
    if kind == "postgres":
        cmd = [
            *_psql(spec, spec["database"]),
            "-c",
            f"\\copy (SELECT {cols} FROM {table}) TO '/dev/null' (FORMAT binary)",
        ]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - t0
        rows = int(out.stdout.strip().split()[-1]) if out.stdout.strip() else -1
        return {"seconds": seconds, "rows": rows, "notes": ["psql COPY TO binary, output discarded"]}
    if kind == "mariadb":
        # --batch --raw: tab-separated, one line per row (no value here holds a newline)
        n, seconds = _count_lines(
            _mariadb(
                spec,
                spec["database"],
                "--batch",
                "--raw",
                "--quick",
                "--skip-column-names",
                "-e",
                f"SELECT {cols} FROM {table}",
            )
        )
        return {"seconds": seconds, "rows": n, "notes": ["mariadb client --quick, output discarded"]}
    # the sqlite3 shell formats every value as text (3.6 s per 1M rows here): Python's driver, which
    # hands the C library's values over as they are, reads faster
    conn = sqlite3.connect(spec["database"])
    try:
        t0 = time.perf_counter()
        cur = conn.execute(f"SELECT {cols} FROM {table}")
        n = 0
        while rows := cur.fetchmany(10_000):
            n += len(rows)
        seconds = time.perf_counter() - t0
    finally:
        conn.close()
    return {"seconds": seconds, "rows": n, "notes": ["sqlite3 module fetchmany, rows discarded"]}


def write_limit(spec: dict[str, Any]) -> dict[str, Any]:
    kind, cols, table = spec["kind"], ", ".join(spec["columns"]), spec["table"]
    if kind == "postgres":
        cmd = [
            *_psql(spec, spec["database"]),
            "-c",
            f"\\copy {table} ({cols}) FROM '{spec['file']}' (FORMAT binary)",
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return {"seconds": time.perf_counter() - t0, "notes": ["psql COPY FROM a binary COPY file"]}
    if kind == "mariadb":
        sql = f"LOAD DATA LOCAL INFILE '{spec['file']}' INTO TABLE {table} CHARACTER SET utf8mb4 ({cols})"
        cmd = _mariadb(spec, spec["database"], "--local-infile=1", "-e", sql + "; SHOW WARNINGS")
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if out.stdout.strip():
            raise RuntimeError(f"LOAD DATA warnings: {out.stdout.strip()[:200]}")
        return {"seconds": seconds, "notes": ["mariadb client LOAD DATA LOCAL INFILE of a TSV file"]}
    conn = sqlite3.connect(spec["database"], isolation_level=None)
    try:
        if spec.get("attach"):
            t0 = time.perf_counter()
            conn.execute("ATTACH DATABASE ? AS src", (spec["attach"],))
            conn.execute("BEGIN")
            conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM src.{spec['src_table']}")
            conn.execute("COMMIT")
            return {"seconds": time.perf_counter() - t0, "notes": ["ATTACH + INSERT ... SELECT"]}
        src = sqlite3.connect(spec["source"])
        rows = src.execute(f"SELECT {cols} FROM {spec['src_table']}").fetchall()  # in memory: not timed
        src.close()
        marks = ", ".join("?" * len(spec["columns"]))
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
        conn.execute("COMMIT")
        return {
            "seconds": time.perf_counter() - t0,
            "notes": ["executemany of in-memory rows, one transaction"],
        }
    finally:
        conn.close()


def remove(path: str) -> None:
    if path and os.path.exists(path):
        os.remove(path)

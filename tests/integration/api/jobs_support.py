"""Helpers of the job-resource API tests (jobs, actions, history, logs, compat).

Jobs need two connections that resolve: SQLite files in the test home, declared as ``AIRFLOW_CONN_*``
environment variables (Airflow's own lookup, no DB rows). ``make_job_body`` gives a valid create body.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import sqlite3
import uuid
from typing import Any

API = "/api.rsc"
SRC, DST = "as_api_src", "as_api_dst"


def ensure_connections(home: str) -> tuple[str, str]:
    """Create source/destination SQLite files (source with tables ``orders`` and ``customers``)."""
    src = pathlib.Path(home, "api_src.db")
    dst = pathlib.Path(home, "api_dst.db")
    if not src.exists():
        with sqlite3.connect(src) as c:
            c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, updated TEXT)")
            c.executemany(
                "INSERT INTO orders VALUES (?, ?, ?)",
                [(i, i * 1.5, f"2024-01-{i:02d}") for i in range(1, 6)],
            )
            c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            c.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
            c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT)")
            c.executemany("INSERT INTO items VALUES (?, ?)", [(1, "x")])
    dst.touch()
    os.environ[f"AIRFLOW_CONN_{SRC.upper()}"] = json.dumps({"conn_type": "sqlite", "host": str(src)})
    os.environ[f"AIRFLOW_CONN_{DST.upper()}"] = json.dumps({"conn_type": "sqlite", "host": str(dst)})
    return SRC, DST


def unique(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def job_body(name: str, *queries: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"JobName": name, "Source": SRC, "Destination": DST}
    for n, q in enumerate(queries or ("REPLICATE [orders]",), start=1):
        body[f"Query#{n}"] = q
    body.update(fields)
    return body


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(data: str) -> str:
    return base64.b64decode(data).decode()

"""The tools a user would pick instead of airflow_sync, run in their own virtualenv (``.venv-peers``,
created by ``make bench``): sling (its Go binary from the ``sling-linux-amd64`` wheel, called directly —
the ``sling`` wrapper package looks for a matching binary and tries to download one) and dlt's
``sql_database`` source (fastest backend: connectorx; and its default: sqlalchemy).

Imported by :mod:`bench.worker` only inside the peers' virtualenv.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

#: the contenders this module runs, and the dlt backend of each
DLT_BACKENDS = {"dlt_connectorx": "connectorx", "dlt_default": "sqlalchemy"}


def sling_binary() -> str:
    """The sling executable shipped inside the ``sling-linux-amd64`` wheel of this interpreter."""
    import sling_linux_amd64

    found = glob.glob(os.path.join(os.path.dirname(sling_linux_amd64.__file__), "bin", "sling*"))
    if not found:
        raise RuntimeError("sling-linux-amd64 is installed without its binary")
    return found[0]


def sling_url(kind: str, url: str) -> str:
    """A sling connection URL from the bench's SQLAlchemy URL."""
    if kind == "postgres":
        return url.replace("postgresql+psycopg://", "postgresql://") + "?sslmode=disable"
    if kind == "mariadb":
        return url.replace("mysql+pymysql://", "mysql://").split("?")[0]
    return url.replace("sqlite:////", "sqlite:///")  # sling reads three slashes and the absolute path


def run_sling(spec: dict[str, Any]) -> dict[str, Any]:
    """``sling run`` full-refresh of the source table into a new destination table (sling creates it)."""
    home = tempfile.mkdtemp(prefix="bench_sling_")
    env = {
        **os.environ,
        "SLING_HOME_DIR": home,
        "SLING_DISABLE_TELEMETRY": "true",
        "BENCH_SRC": sling_url(spec["src_kind"], spec["src_url"]),
        "BENCH_DST": sling_url(spec["dst_kind"], spec["dst_url"]),
    }
    schema = {"postgres": "public.", "sqlite": "main."}
    source = schema.get(spec["src_kind"], f"{spec['src_database']}.") + spec["src_table"]
    target = schema.get(spec["dst_kind"], f"{spec['dst_database']}.") + spec["dst_table"]
    cmd = [
        sling_binary(), "run", "--src-conn", "BENCH_SRC", "--src-stream", source,
        "--tgt-conn", "BENCH_DST", "--tgt-object", target, "--mode", "full-refresh",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"sling exited {proc.returncode}: {' | '.join(tail)}"[:300])
    return {
        "seconds": seconds,
        "notes": [f"sling {_sling_version()}, binary from the sling-linux-amd64 wheel"],
    }


def _sling_version() -> str:
    out = subprocess.run([sling_binary(), "--version"], capture_output=True, text=True).stdout
    return out.strip().split()[-1] if out.strip() else "?"


def _dlt_source_url(kind: str, url: str) -> str:
    # dlt's default (sqlalchemy) reader with the drivers installed in the peers' virtualenv
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://")


def _connectorx_url(kind: str, url: str) -> str:
    if kind == "postgres":
        return url.replace("postgresql+psycopg://", "postgresql://")
    if kind == "mariadb":
        return url.replace("mysql+pymysql://", "mysql://").split("?")[0]
    return url


def run_dlt(spec: dict[str, Any]) -> dict[str, Any]:
    """A dlt pipeline: ``sql_table`` of the source → the destination, ``write_disposition="replace"``.

    Destinations: dlt's ``postgres`` destination (into the dataset schema ``spec["dataset"]``) and its
    ``sqlalchemy`` destination for MariaDB (the destination database as the dataset) and SQLite (``main``).
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    workdir = tempfile.mkdtemp(prefix="bench_dlt_")
    os.environ["DLT_DATA_DIR"] = workdir
    import dlt
    from dlt.sources.sql_database import sql_table

    backend = DLT_BACKENDS[spec["contender"]]
    kwargs: dict[str, Any] = {}
    if spec.get("max_id"):
        cap = int(spec["max_id"])  # --peer-rows: the first rows only (the rate is extrapolated, and shown so)
        kwargs["query_adapter_callback"] = lambda query, table: query.where(table.c.id <= cap)
    if backend == "connectorx":
        kwargs["backend_kwargs"] = {"conn": _connectorx_url(spec["src_kind"], spec["src_url"])}
    dst_kind, dst_url = spec["dst_kind"], spec["dst_url"]
    if dst_kind == "postgres":
        # dlt insists on a password; the server's trust authentication ignores it
        from sqlalchemy.engine import make_url

        url = make_url(dst_url.replace("+psycopg://", "://"))
        url = url if url.password else url.set(password="bench")
        destination = dlt.destinations.postgres(credentials=url.render_as_string(hide_password=False))
    else:
        destination = dlt.destinations.sqlalchemy(credentials=dst_url)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{spec['query_id']}_{backend}",
        destination=destination,
        dataset_name=spec["dataset"],
        pipelines_dir=workdir,
    )
    resource = sql_table(
        credentials=_dlt_source_url(spec["src_kind"], spec["src_url"]),
        table=spec["src_table"],
        backend=backend,
        reflection_level="full_with_precision",  # numeric(12,2) stays a decimal, not a double
        **kwargs,
    )
    t0 = time.perf_counter()
    pipeline.run(resource, table_name=spec["dst_table"], write_disposition="replace")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "notes": [f"dlt {dlt.__version__}, sql_database backend {backend}"]}

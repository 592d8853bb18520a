"""One contender in a fresh process: ``python -m bench.worker '<json spec>'``.

Run by :mod:`bench.contenders` so each contender's peak RSS is its own (imports included) and nothing is
shared between contenders. Prints one ``BENCH_RESULT {json}`` line; the time is measured around the copy
itself (imports and connection setup of the library are not timed, for every contender alike).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
import traceback
from typing import Any

MARKER = "BENCH_RESULT "


#: the job's Verbosity for airflow_sync's runs (4: each statement, 5: with its time and rows, into the
#: contender's log under bench/results/logs); unset: the job's default
VERBOSITY = os.environ.get("BENCH_VERBOSITY")


def _airflow_sync(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_sync.engine.plan import ReplicationPlan
    from airflow_sync.engine.replicate import run_replication
    from airflow_sync.statement import TableRef

    options: dict[str, Any] = {"verbosity": int(VERBOSITY)} if VERBOSITY else {}
    plan = ReplicationPlan(
        job_name="bench",
        query_id=spec["query_id"],
        source=TableRef((spec["src_table"],)),
        destination=spec["dst_table"],
        incremental_check_columns=tuple(spec["check_columns"]),
        use_gmt=True,
        **spec.get("plan_options", {}),
        **options,
    )
    # Import the engine's dialects and drivers first, as the peer's hooks are resolved first: one-off
    # import cost is start-up, not transfer time (connecting stays timed for every contender).
    from airflow_sync.engine.dialects import dialect_for

    for url in (spec["src_url"], spec["dst_url"]):
        dialect_for(url)
        if url.startswith("sqlite"):
            from airflow_sync.engine.dialects import sqlite_arrow, sqlite_ingest

            sqlite_arrow.available()  # imports pyarrow and the ADBC SQLite driver (the Arrow path's drivers)
            if url == spec["dst_url"]:  # into SQLite: the source's ADBC driver (ADR 0007) too
                sqlite_ingest.available(dialect_for(spec["src_url"]).name)
                if spec["src_url"].startswith("mysql"):  # and connectorx (ADR 0008)
                    from airflow_sync.engine.dialects import mysql_arrow

                    mysql_arrow.available()
        if url.startswith("postgresql"):
            import psycopg  # noqa: F401
        elif url.startswith("mysql"):
            import pymysql  # noqa: F401

            from airflow_sync.engine.dialects.mysql_read import available

            available()  # imports mysql-connector-python (the C-extension reads) when installed
    log = logging.getLogger("bench.airflow_sync")
    # the engine's own per-run messages (and with BENCH_VERBOSITY its statements), into the contender's log
    log.setLevel(1 if VERBOSITY else logging.INFO)
    t0 = time.perf_counter()
    summary = run_replication(plan, spec["src_url"], spec["dst_url"], log=log)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "summary": summary.to_dict()}


def _bool_fixer(dst_kind: str, index: int) -> Any:
    """The minimal ``rows_processor`` a GenericTransfer user needs for booleans between these engines.

    Without it SQLite/MariaDB→PostgreSQL fails (``boolean`` column vs ``smallint`` parameter) and
    PostgreSQL→SQLite stores the text ``'True'`` (DbApiHook serialises cells with ``str()``).
    """
    to = bool if dst_kind == "postgres" else int

    def rows_processor(rows: list[Any], **_context: Any) -> list[Any]:
        out = []
        for row in rows:
            row = list(row)
            if row[index] is not None:
                row[index] = to(row[index])
            out.append(row)
        return out

    return rows_processor


def _generic_transfer(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    cols = spec["columns"]
    where = f" WHERE id <= {int(spec['max_id'])}" if spec.get("max_id") else ""
    op = GenericTransfer(
        task_id="bench_generic_transfer",
        sql=f"SELECT {', '.join(cols)} FROM {spec['src_table']}{where}",
        destination_table=spec["dst_table"],
        source_conn_id="bench_src",
        destination_conn_id="bench_dst",
        insert_args={"target_fields": cols, **spec["insert_args"]},
        rows_processor=_bool_fixer(spec["dst_kind"], cols.index("flag")) if spec.get("bool_fix") else None,
    )
    # Resolve both hooks first: Airflow's one-off provider discovery is start-up cost, not transfer time.
    _ = (op.source_hook, op.destination_hook)
    t0 = time.perf_counter()
    op.execute(context={})  # type: ignore[arg-type]
    result: dict[str, Any] = {"seconds": time.perf_counter() - t0}
    if "mysql.connector" in sys.modules:
        import mysql.connector

        cext = "C extension" if mysql.connector.HAVE_CEXT else "pure Python (no C extension)"
        result["notes"] = [f"MySqlHook client mysql-connector-python {mysql.connector.__version__}, {cext}"]
    return result


def _psql_pipe(spec: dict[str, Any]) -> dict[str, Any]:
    """``psql \\copy (select) to stdout (binary) | psql \\copy t from stdin (binary)``: no Python per row."""
    cols = ", ".join(spec["columns"])
    base = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", spec["pg_host"], "-p", str(spec["pg_port"])]
    base += ["-U", spec["pg_user"]]
    out_cmd = [
        *base,
        "-d",
        spec["src_db"],
        "-c",
        f"\\copy (SELECT {cols} FROM {spec['src_table']}) TO pstdout (FORMAT binary)",
    ]
    in_cmd = [
        *base,
        "-d",
        spec["dst_db"],
        "-c",
        f"\\copy {spec['dst_table']} ({cols}) FROM pstdin (FORMAT binary)",
    ]
    t0 = time.perf_counter()
    reader = subprocess.Popen(out_cmd, stdout=subprocess.PIPE)
    writer = subprocess.Popen(in_cmd, stdin=reader.stdout)
    assert reader.stdout is not None
    reader.stdout.close()  # so the reader gets SIGPIPE if the writer dies
    _, st_w, ru_w = os.wait4(writer.pid, 0)
    _, st_r, ru_r = os.wait4(reader.pid, 0)
    seconds = time.perf_counter() - t0
    if st_w or st_r:
        raise RuntimeError(f"psql pipe failed (reader status {st_r}, writer status {st_w})")
    # both psql processes run at the same time: their peaks add up
    return {"seconds": seconds, "maxrss_kb": ru_w.ru_maxrss + ru_r.ru_maxrss}


def _peer(spec: dict[str, Any]) -> dict[str, Any]:
    from bench import peers

    return peers.run_sling(spec) if spec["contender"] == "sling" else peers.run_dlt(spec)


def _limit(spec: dict[str, Any]) -> dict[str, Any]:
    from bench import limits

    return limits.read_limit(spec) if spec["contender"] == "read_limit" else limits.write_limit(spec)


CONTENDERS = {
    "airflow_sync": _airflow_sync,
    "generic_transfer": _generic_transfer,
    "psql_pipe": _psql_pipe,
    "sling": _peer,
    "dlt_connectorx": _peer,
    "dlt_default": _peer,
    "read_limit": _limit,
    "write_limit": _limit,
    "attach_limit": _limit,
}


def main() -> int:
    spec = json.loads(sys.argv[1])
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        result = CONTENDERS[spec["contender"]](spec)
        result["ok"] = True
    except BaseException as exc:
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
    # this process plus the largest child it waited for (an engine may shell out, e.g. to psql)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.setdefault("maxrss_kb", own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.stdout.write("\n" + MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

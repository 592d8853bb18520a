"""``python -m bench`` — argument parsing and the final report."""

from __future__ import annotations

import argparse
import sys
import time
from itertools import product
from pathlib import Path

from bench.endpoints import KINDS, Kind
from bench.report import RESULTS, checks, machine, render, write_json
from bench.runner import Bench, Options, pair_name

_ALIASES: dict[str, Kind] = {
    "sqlite": "sqlite",
    "pg": "postgres",
    "postgres": "postgres",
    "postgresql": "postgres",
    "mariadb": "mariadb",
    "mysql": "mariadb",
    "maria": "mariadb",
}


def parse_pairs(text: str) -> list[tuple[Kind, Kind]]:
    """``all`` or a comma list of ``src-dst`` (``sqlite``, ``pg``/``postgres``, ``mariadb``/``mysql``)."""
    if text.strip() == "all":
        return list(product(KINDS, KINDS))
    out: list[tuple[Kind, Kind]] = []
    for item in text.split(","):
        try:
            s, d = (_ALIASES[p.strip().lower()] for p in item.strip().split("-"))
        except (KeyError, ValueError):
            raise argparse.ArgumentTypeError(
                f"bad pair {item!r}: use e.g. sqlite-sqlite, pg-mariadb"
            ) from None
        out.append((s, d))
    return list(dict.fromkeys(out))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the source table (default 1,000,000)")
    p.add_argument("--quick", action="store_true", help="smoke run: 50,000 rows (overrides --rows)")
    p.add_argument(
        "--pairs",
        type=parse_pairs,
        default=parse_pairs("all"),
        help="'all' (default) or e.g. 'sqlite-sqlite,pg-pg,mariadb-pg'",
    )
    p.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run GenericTransfer and (PG->PG) the psql pipe (default on; --no-peers skips)",
    )
    p.add_argument(
        "--peer-set",
        default="generic_transfer,sling,dlt_connectorx,dlt_default",
        help="comma list of the peers to run (default all: generic_transfer, sling, dlt_connectorx, "
        "dlt_default); the psql pipe always runs on PG->PG with --peers",
    )
    p.add_argument(
        "--limits",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure each engine's fastest read and write alone (default on)",
    )
    p.add_argument(
        "--peer-rows",
        type=int,
        default=None,
        help="cap GenericTransfer and dlt_default (the slow peers) at this many rows and extrapolate "
        "their rates (printed); default: all",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help="also run airflow_sync on 4x rows and compare peak RSS (pairs: --memory-pairs)",
    )
    p.add_argument(
        "--memory-pairs", type=parse_pairs, default=None, help="pairs for --memory (default pg-pg)"
    )
    p.add_argument(
        "--gt-commit-every",
        type=int,
        default=1000,
        help="GenericTransfer insert_args commit_every (default 1000, the hook's default)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="airflow_sync plan batch_size (default: the plan's default, as a job would have)",
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds per contender run")
    p.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    p.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the JSON (default {RESULTS})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = 50_000 if args.quick else args.rows
    memory_pairs: list[tuple[Kind, Kind]] = []
    if args.memory:
        memory_pairs = args.memory_pairs or [("postgres", "postgres")]
    pairs = list(dict.fromkeys([*args.pairs, *memory_pairs]))  # a memory pair needs its N-row run
    opts = Options(
        rows=rows,
        pairs=pairs,
        peers=args.peers,
        peer_set=tuple(p.strip() for p in args.peer_set.split(",") if p.strip()),
        limits=args.limits,
        peer_rows=args.peer_rows,
        memory_pairs=memory_pairs,
        gt_commit_every=args.gt_commit_every,
        batch_size=args.batch_size,
        timeout=args.timeout,
        keep=args.keep,
    )
    print(
        f"airflow_sync bench: {rows:,} rows, pairs {', '.join(pair_name(p) for p in pairs)}; "
        f"machine: {machine()['cpu_model']} x{machine()['cpus']}",
        flush=True,
    )
    t0 = time.perf_counter()
    bench = Bench(opts)
    try:
        bench.run()
    except KeyboardInterrupt:
        print("interrupted: reporting what ran", file=sys.stderr)
    total = time.perf_counter() - t0
    cks = checks(bench.results)
    print()
    print(render(bench.results, cks))
    for note in bench.notes:
        print(f"NOTE: {note}")
    la = ", ".join(f"{a[0]:.1f}" for a in bench.load_average)
    print(f"1-min load average at start/end: {la} (on {machine()['cpus']} CPUs)")
    print(f"\ntotal {total:.0f}s; JSON: {args.json}")
    meta = {
        "rows": rows,
        "pairs": [pair_name(p) for p in pairs],
        "total_seconds": round(total, 1),
        "options": {k: v for k, v in vars(args).items() if k not in ("pairs", "memory_pairs", "json")},
        "timings": {k: round(v, 2) for k, v in bench.timings.items()},
        "load_average_start_end": bench.load_average,
        "notes": bench.notes,
    }
    write_json(bench.results, cks, meta, args.json)
    return 0

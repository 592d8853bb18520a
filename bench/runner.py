"""The benchmark's phases: generate → full loads (all contenders) → 1% change → incremental → memory."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data
from bench.contenders import Result, run_worker
from bench.endpoints import (
    MY_HOST,
    MY_PORT,
    MY_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
    SHORT,
    Endpoint,
    Kind,
    Workspace,
)
from bench.verify import Checksum, checksum, verify

SRC_TABLE = "bench_rows"
SRC_TABLE_4X = "bench_rows_4x"
LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


@dataclass
class Options:
    """What to run; see ``python -m bench --help``."""

    rows: int
    pairs: list[tuple[Kind, Kind]]
    peers: bool = True
    #: which peers run beside airflow_sync when ``peers`` (see ``--peer-set``)
    peer_set: tuple[str, ...] = ("generic_transfer", "sling", "dlt_connectorx", "dlt_default")
    limits: bool = True
    peer_rows: int | None = None
    memory_pairs: list[tuple[Kind, Kind]] = field(default_factory=list)
    gt_commit_every: int = 1000
    batch_size: int | None = None
    timeout: float = 3600.0
    keep: bool = False


def pair_name(pair: tuple[Kind, Kind]) -> str:
    return f"{pair[0]}->{pair[1]}"


def _say(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


class Bench:
    """Holds the run's databases, expected checksums and results."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.ws = Workspace(keep=opts.keep)
        self.results: list[Result] = []
        self.notes: list[str] = []
        self.src: dict[Kind, Endpoint] = {}
        self.dst: dict[Kind, Endpoint] = {}
        self.expected: dict[tuple[Kind, str], Checksum] = {}
        self.timings: dict[str, float] = {}
        # other work on the machine skews every number: recorded with the results
        self.load_average: list[tuple[float, float, float]] = []
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.airflow_home = os.path.join(self.ws.tmpdir, "airflow_home")

    # ---- setup -------------------------------------------------------------------------------------
    def setup(self) -> None:
        kinds_src = sorted({s for s, _ in self.opts.pairs})
        kinds_dst = sorted({d for _, d in self.opts.pairs})
        for k in kinds_src:
            self.src[k] = self.ws.create(k, "src")
        for k in kinds_dst:
            self.dst[k] = self.ws.create(k, "dst")
        for k, ep in self.src.items():
            t0 = time.perf_counter()
            data.generate(ep, SRC_TABLE, self.opts.rows)
            self.timings[f"generate_{k}"] = time.perf_counter() - t0
            _say(f"generated {self.opts.rows:,} rows in {k} in {self.timings[f'generate_{k}']:.1f}s")
            self._expect(k, "full")

    def _expect(self, kind: Kind, state: str, table: str = SRC_TABLE, max_id: int | None = None) -> Checksum:
        key = (kind, state)
        if key not in self.expected:
            t0 = time.perf_counter()
            self.expected[key] = checksum(self.src[kind], table, max_id)
            self.timings[f"checksum_{kind}_{state}"] = time.perf_counter() - t0
        return self.expected[key]

    # ---- one contender -----------------------------------------------------------------------------
    def _run(
        self,
        pair: tuple[Kind, Kind],
        contender: str,
        phase: str,
        dst_table: str,
        expected: Checksum,
        spec_extra: dict[str, Any],
        env_extra: dict[str, str] | None = None,
        rows: int | None = None,
        max_id: int | None = None,
        verify_table: str | None = None,
        pair_label: str | None = None,
    ) -> Result:
        s, d = pair
        spec = {
            "contender": contender,
            "phase": phase,
            "query_id": f"{SHORT[s]}_to_{SHORT[d]}",
            "src_table": spec_extra.pop("src_table", SRC_TABLE),
            "dst_table": dst_table,
            "columns": list(data.COLUMNS),
            **spec_extra,
        }
        env = {
            "AIRFLOW_HOME": self.airflow_home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            **(env_extra or {}),
        }
        res = Result(
            pair_label or pair_name(pair), contender, phase, rows if rows is not None else expected.rows
        )
        out = run_worker(spec, env, self.opts.timeout, LOG_DIR)
        res.wall_seconds = round(out.get("wall_seconds", 0.0), 2)
        if out.get("maxrss_kb"):
            res.peak_rss_mb = round(out["maxrss_kb"] / 1024, 1)
        res.notes += out.get("notes", [])
        if out.get("summary"):
            res.summary = out["summary"]
            res.mode = str(out["summary"].get("mode", ""))
        if not out.get("ok"):
            res.status, res.error = "FAILED", str(out.get("error"))
        elif contender == "read_limit":
            got = out.get("rows")
            problems = [] if got == expected.rows else [f"read {got} rows, the table has {expected.rows}"]
            if problems:
                res.status, res.error = "FAILED", problems[0]
            else:
                res.seconds = round(float(out["seconds"]), 3)
        else:
            ep = self.dst[d]
            problems = verify(ep, verify_table or dst_table, expected, max_id)
            if problems:
                res.status, res.error = "FAILED", "wrong result: " + "; ".join(problems)
                res.unverified_seconds = round(float(out["seconds"]), 3)
            else:
                res.seconds = round(float(out["seconds"]), 3)
        self.results.append(res)
        if res.ok:
            _say(
                f"{phase:<11} {res.pair:<18} {contender:<16} {res.rows:>10,} rows {res.seconds:>8.2f}s "
                f"{res.rows_per_s or 0:>10,.0f} rows/s {res.peak_rss_mb or 0:>7.0f} MB"
            )
        else:
            _say(f"{phase:<11} {res.pair:<18} {contender:<16} FAILED: {res.error}")
        return res

    def _as_spec(self, pair: tuple[Kind, Kind], src_table: str = SRC_TABLE) -> dict[str, Any]:
        plan_options = {"batch_size": self.opts.batch_size} if self.opts.batch_size else {}
        return {
            "src_url": self.src[pair[0]].url,
            "dst_url": self.dst[pair[1]].url,
            "src_table": src_table,
            "check_columns": ["updated_at"],
            "plan_options": plan_options,
        }

    # ---- phases ------------------------------------------------------------------------------------
    def full_loads(self) -> None:
        for pair in self.opts.pairs:
            s = pair[0]
            exp = self._expect(s, "full")
            self._run(pair, "airflow_sync", "full", f"from_{SHORT[s]}_as", exp, self._as_spec(pair))
            if self.opts.peers:
                if "generic_transfer" in self.opts.peer_set:
                    self._generic_transfer(pair)
                for peer in ("sling", "dlt_connectorx", "dlt_default"):
                    if peer in self.opts.peer_set:
                        self._tool(pair, peer)
                if pair == ("postgres", "postgres"):
                    self._psql_pipe(pair)

    def _tool(self, pair: tuple[Kind, Kind], contender: str) -> None:
        """sling or dlt: they create the destination table themselves (dlt in a dataset schema on PG)."""
        s, d = pair
        short = {"sling": "sling", "dlt_connectorx": "dltcx", "dlt_default": "dltsa"}[contender]
        table = f"from_{SHORT[s]}_{short}"
        dataset = {"postgres": short, "mariadb": self.dst[d].database, "sqlite": "main"}[d]
        spec = {
            "src_kind": s,
            "dst_kind": d,
            "src_url": self.src[s].url,
            "dst_url": self.dst[d].url,
            "src_database": self.src[s].database,
            "dst_database": self.dst[d].database,
            "dataset": dataset,
        }
        verify_as = f"{dataset}.{table}" if d == "postgres" and contender != "sling" else table
        # --peer-rows caps the slowest peer too (dlt's default backend: minutes per million rows)
        cap = self.opts.peer_rows if self.opts.peer_rows and self.opts.peer_rows < self.opts.rows else None
        if contender != "dlt_default" or cap is None:
            self._run(pair, contender, "full", table, self._expect(s, "full"), spec, verify_table=verify_as)
            return
        spec["max_id"] = cap
        exp = self._expect(s, f"first_{cap}", max_id=cap)
        res = self._run(pair, contender, "full", table, exp, spec, verify_table=verify_as, max_id=cap)
        res.extrapolated_from = cap
        res.notes.append(f"ran on the first {cap:,} rows; rows/s taken as the rate at {self.opts.rows:,}")

    # ---- limits: each engine's fastest read and write alone -------------------------------------------
    def _limit_spec(self, ep: Endpoint) -> dict[str, Any]:
        return {
            "kind": ep.kind, "database": ep.database, "columns": list(data.COLUMNS),
            "pg_host": PG_HOST, "pg_port": PG_PORT, "pg_user": PG_USER,
            "my_host": MY_HOST, "my_port": MY_PORT, "my_user": MY_USER,
        }  # fmt: skip

    def limits(self) -> None:
        """The read limit of every source engine and the write limit of every destination engine."""
        for k in sorted(self.src):
            spec = {**self._limit_spec(self.src[k]), "table": SRC_TABLE}
            self._run(
                (k, k), "read_limit", "limit", "", self._expect(k, "full"), spec, pair_label=f"{k} read"
            )
        for k in sorted(self.dst):
            self._write_limit(k)
        if ("sqlite", "sqlite") in self.opts.pairs:
            ep = self.dst["sqlite"]
            data.create_table(ep, "limit_attach")
            spec = {
                **self._limit_spec(ep), "table": "limit_attach", "attach": self.src["sqlite"].database,
                "src_table": SRC_TABLE,
            }  # fmt: skip
            exp = self._expect("sqlite", "full")
            self._run(("sqlite", "sqlite"), "attach_limit", "limit", "limit_attach", exp, spec,
                      pair_label="sqlite write")  # fmt: skip
            data.drop_table(ep, "limit_attach")

    def _write_limit(self, k: Kind) -> None:
        ep = self.dst[k]
        spec = {**self._limit_spec(ep), "table": "limit_write"}
        path = os.path.join(self.ws.tmpdir, f"limit_{k}.data")
        if k == "sqlite":
            src = self.src.get("sqlite") or Endpoint("sqlite", os.path.join(self.ws.tmpdir, "limit_src.db"))
            if "sqlite" not in self.src:
                data.generate(src, SRC_TABLE, self.opts.rows)
            spec.update(source=src.database, src_table=SRC_TABLE)
        else:
            data.generate(ep, "limit_rows", self.opts.rows)  # server-side, then dumped to a file: not timed
            data.dump_for_bulk_load(ep, "limit_rows", path)
            data.drop_table(ep, "limit_rows")
            spec["file"] = path
        data.create_table(ep, "limit_write")
        exp = self._expect(next(iter(sorted(self.src))), "full")
        self._run((k, k), "write_limit", "limit", "limit_write", exp, spec, pair_label=f"{k} write")
        data.drop_table(ep, "limit_write")
        if os.path.exists(path):
            os.remove(path)

    def _generic_transfer(self, pair: tuple[Kind, Kind]) -> None:
        s, d = pair
        table = f"from_{SHORT[s]}_gt"
        data.create_table(self.dst[d], table)  # GenericTransfer does not create tables
        cap = self.opts.peer_rows if self.opts.peer_rows and self.opts.peer_rows < self.opts.rows else None
        exp = self._expect(s, f"first_{cap}", max_id=cap) if cap else self._expect(s, "full")
        bool_fix = s != d and (d == "postgres" or (s, d) == ("postgres", "sqlite"))
        spec = {
            "dst_kind": d,
            "insert_args": {"executemany": True, "commit_every": self.opts.gt_commit_every},
            "bool_fix": bool_fix,
            "max_id": cap,
        }
        env = {
            "AIRFLOW_CONN_BENCH_SRC": json.dumps(self.src[s].airflow_connection()),
            "AIRFLOW_CONN_BENCH_DST": json.dumps(self.dst[d].airflow_connection()),
        }
        res = self._run(pair, "generic_transfer", "full", table, exp, spec, env, max_id=cap)
        if bool_fix:
            res.notes.append(
                "needs a rows_processor converting booleans (added; it fails or corrupts without)"
            )
        if cap:
            res.extrapolated_from = cap
            res.notes.append(f"ran on the first {cap:,} rows; rows/s taken as the rate at {self.opts.rows:,}")

    def _psql_pipe(self, pair: tuple[Kind, Kind]) -> None:
        table = "from_pg_pipe"
        data.create_table(self.dst["postgres"], table)
        spec = {
            "pg_host": PG_HOST,
            "pg_port": PG_PORT,
            "pg_user": PG_USER,
            "src_db": self.src["postgres"].database,
            "dst_db": self.dst["postgres"].database,
        }
        self._run(pair, "psql_pipe", "full", table, self._expect("postgres", "full"), spec)

    def incremental(self) -> None:
        full_ok = {
            r.pair for r in self.results if r.contender == "airflow_sync" and r.phase == "full" and r.ok
        }
        when = datetime.now(UTC).replace(tzinfo=None)
        changed: dict[Kind, int] = {}
        for k, ep in self.src.items():
            changed[k] = data.change_one_percent(ep, SRC_TABLE, when)
            _say(f"changed {changed[k]:,} rows ({changed[k] / self.opts.rows:.1%}) in {k}")
            self._expect(k, "changed")
        for pair in self.opts.pairs:
            s, _ = pair
            if pair_name(pair) not in full_ok:
                res = Result(pair_name(pair), "airflow_sync", "incremental", self.opts.rows, status="FAILED")
                res.error = "skipped: the full load before it failed"
                self.results.append(res)
                continue
            # The floor runs right after the verification of this destination, which reads the whole
            # table in key order and leaves it in the buffer pool; before the run the same table was last
            # read minutes ago, and the full loads and verifications of other pairs on the same server have
            # evicted it since. The same read before the run puts both on the same pages in the same state
            # (and checks the destination still holds what its full load left).
            problems = verify(self.dst[pair[1]], f"from_{SHORT[s]}_as", self._expect(s, "full"))
            if problems:
                res = Result(pair_name(pair), "airflow_sync", "incremental", changed[s], status="FAILED")
                res.error = "the destination no longer holds its full load: " + "; ".join(problems)
                self.results.append(res)
                continue
            data.checkpoint(self.dst[pair[1]])
            res = self._run(
                pair,
                "airflow_sync",
                "incremental",
                f"from_{SHORT[s]}_as",
                self._expect(s, "changed"),
                self._as_spec(pair),
                rows=changed[s],  # the rows the run has to move; the table stays at N rows
            )
            if res.ok:
                self._direct_update(pair)

    def _direct_update(self, pair: tuple[Kind, Kind]) -> None:
        """The destination's own floor for the same change (after airflow_sync's result was verified)."""
        s, d = pair
        data.checkpoint(self.dst[d])  # as before the run (see data.checkpoint)
        when = datetime.now(UTC).replace(tzinfo=None)
        n, seconds = data.update_changed_rows_directly(
            self.dst[d], f"from_{SHORT[s]}_as", self.opts.rows, when
        )
        res = Result(pair_name(pair), "direct_update", "incremental", n, seconds=round(seconds, 3))
        expected = len(range(8, self.opts.rows + 1, 100))
        if n != expected:
            res.status, res.error = "FAILED", f"updated {n:,} rows, expected {expected:,}"
        self.results.append(res)
        _say(
            f"{'incremental':<11} {res.pair:<18} {'direct_update':<16} {n:>10,} rows {seconds:>8.2f}s (floor)"
        )

    def memory(self) -> None:
        n4 = 4 * self.opts.rows
        done: set[Kind] = set()
        for pair in self.opts.memory_pairs:
            s, _ = pair
            if s not in done:
                t0 = time.perf_counter()
                data.generate(self.src[s], SRC_TABLE_4X, n4)
                _say(f"generated {n4:,} rows in {s} in {time.perf_counter() - t0:.1f}s (memory phase)")
                self._expect(s, "4x", table=SRC_TABLE_4X)
                done.add(s)
            self._run(
                pair,
                "airflow_sync",
                "memory-4x",
                f"from_{SHORT[s]}_as4x",
                self._expect(s, "4x"),
                self._as_spec(pair, SRC_TABLE_4X),
            )

    def run(self) -> None:
        """All phases; a phase that breaks (e.g. a service down) is recorded and ends the run."""
        self.load_average.append(os.getloadavg())
        phases = [self.setup, *([self.limits] if self.opts.limits else []), self.full_loads, self.incremental]
        if self.opts.memory_pairs:
            phases.append(self.memory)
        try:
            for phase in phases:
                try:
                    phase()
                except Exception as exc:
                    msg = f"phase {phase.__name__} aborted: {type(exc).__name__}: {exc}".splitlines()[0]
                    self.notes.append(msg)
                    _say(msg)
                    break
        finally:
            self.load_average.append(os.getloadavg())
            self.ws.close()

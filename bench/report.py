"""The printed table and ``bench/results/latest.json``: results plus the issue's targets, met or not."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.contenders import Result

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass
class Check:
    """One target of issue 3 evaluated on this run's numbers (``met`` None = could not be evaluated)."""

    pair: str
    name: str
    value: float | None
    target: str
    met: bool | None
    detail: str = ""


def _find(results: list[Result], pair: str, contender: str, phase: str) -> Result | None:
    return next(
        (r for r in results if r.pair == pair and r.contender == contender and r.phase == phase), None
    )


def _ratio_check(pair: str, name: str, ours: Result | None, peer: Result | None, minimum: float) -> Check:
    target = f">= {minimum:g}x"
    if ours is None or peer is None:
        return Check(pair, name, None, target, None, "not run")
    if ours.ok and ours.rows_per_s and not peer.ok and peer.unverified_seconds:
        # the peer finished with a wrong result: its speed is still what a user would see
        value = ours.rows_per_s / (peer.rows / peer.unverified_seconds)
        return Check(
            pair, name, round(value, 2), target, value >= minimum, f"{peer.contender}'s result is wrong"
        )
    if not ours.ok or not peer.ok or not ours.rows_per_s or not peer.rows_per_s:
        who = "airflow_sync" if not ours.ok else peer.contender
        return Check(pair, name, None, target, None, f"{who} FAILED")
    value = ours.rows_per_s / peer.rows_per_s
    return Check(pair, name, round(value, 2), target, value >= minimum)


#: peers airflow_sync must beat (ratio of rows/s >= 1), with their labels in the table
FASTER_THAN = {"sling": "sling", "dlt_connectorx": "dlt cx", "dlt_default": "dlt def"}


def _limit_of(results: list[Result], pair: str) -> tuple[Result | None, str]:
    """The slower of the pair's two limits (the source's read, the destination's write) and its label.

    Into SQLite from a SQLite source the faster write is ATTACH + INSERT ... SELECT; from elsewhere it is
    ``executemany`` (ATTACH cannot apply).
    """
    s, d = pair.split("->")
    read = _find(results, f"{s} read", "read_limit", "limit")
    writes = [_find(results, f"{d} write", "write_limit", "limit")]
    if s == d == "sqlite":
        writes.append(_find(results, f"{d} write", "attach_limit", "limit"))
    ok_writes = [w for w in writes if w is not None and w.ok and w.rows_per_s]
    write = max(ok_writes, key=lambda r: r.rows_per_s or 0) if ok_writes else None
    both = [r for r in (read, write) if r is not None and r.ok and r.rows_per_s]
    if len(both) < 2:
        return None, "limits not run or FAILED"
    slower = min(both, key=lambda r: r.rows_per_s or 0)
    return slower, f"{slower.pair} {slower.rows_per_s or 0:,.0f} rows/s"


def checks(results: list[Result]) -> list[Check]:
    """Every target (issue 12) that applies to the pairs that ran."""
    out: list[Check] = []
    pairs = [r.pair for r in results if "->" in r.pair]
    for pair in dict.fromkeys(pairs):
        ours = _find(results, pair, "airflow_sync", "full")
        limit, label = _limit_of(results, pair)
        if limit is not None:
            c = _ratio_check(pair, "full load vs slower limit", ours, limit, 0.5)
            c.detail = label
            out.append(c)
        gt = _find(results, pair, "generic_transfer", "full")
        if gt is not None:
            out.append(_ratio_check(pair, "full load vs GenericTransfer", ours, gt, 3.0))
        for contender in FASTER_THAN:
            peer = _find(results, pair, contender, "full")
            if peer is not None:
                out.append(_ratio_check(pair, f"full load vs {contender}", ours, peer, 1.0))
        pipe = _find(results, pair, "psql_pipe", "full")
        if pipe is not None:
            out.append(_ratio_check(pair, "full load vs psql binary pipe", ours, pipe, 0.9))
        inc = _find(results, pair, "airflow_sync", "incremental")
        floor = _find(results, pair, "direct_update", "incremental")
        if inc is not None:
            name, target = "incremental 1% vs direct-UPDATE floor", "<= 1.5x"
            if inc.ok and floor is not None and floor.ok and floor.seconds and inc.seconds is not None:
                ratio = inc.seconds / floor.seconds
                pct = (
                    f"{100 * inc.seconds / ours.seconds:.1f}% of full"
                    if ours and ours.ok and ours.seconds
                    else ""
                )
                out.append(Check(pair, name, round(ratio, 2), target, ratio <= 1.5, pct))
            else:
                out.append(Check(pair, name, None, target, None, "a run FAILED"))
        mem = _find(results, pair, "airflow_sync", "memory-4x")
        if mem is not None:
            if ours and ours.ok and mem.ok and ours.peak_rss_mb and mem.peak_rss_mb:
                ratio = mem.peak_rss_mb / ours.peak_rss_mb
                out.append(
                    Check(
                        pair,
                        "peak RSS 4N / N",
                        round(ratio, 3),
                        "<= 1.10",
                        ratio <= 1.10,
                        f"{ours.peak_rss_mb:.0f} MB -> {mem.peak_rss_mb:.0f} MB",
                    )
                )
            else:
                out.append(Check(pair, "peak RSS 4N / N", None, "<= 1.10", None, "a run FAILED"))
    return out


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _yes(met: bool | None) -> str:
    return "n/a" if met is None else "yes" if met else "NO"


def render(results: list[Result], cks: list[Check]) -> str:
    """The human table (fixed-width, also pasted into the README)."""
    head = f"{'pair':<19}{'contender':<17}{'phase':<12}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'RSS MB':>8}"
    head += f"  {'ratio / target':<28}met"
    lines = [head, "-" * len(head)]
    by_pair = {(c.pair, c.name): c for c in cks}
    for r in results:
        rel: list[Check] = []
        if r.contender == "airflow_sync" and r.phase == "full":
            rel = [c for (p, n), c in by_pair.items() if p == r.pair and n.startswith("full load")]
        elif r.contender == "airflow_sync" and r.phase == "incremental":
            rel = [c for (p, n), c in by_pair.items() if p == r.pair and n.startswith("incremental")]
        elif r.phase == "memory-4x":
            rel = [c for (p, n), c in by_pair.items() if p == r.pair and n.startswith("peak RSS")]
        base = f"{r.pair:<19}{r.contender:<17}{r.phase:<12}{r.rows:>10,}"
        if r.ok:
            base += f"{r.seconds:>9.2f}{_fmt(r.rows_per_s, ',.0f'):>10}{_fmt(r.peak_rss_mb, '.0f'):>8}"
        elif r.unverified_seconds:
            base += f"{r.unverified_seconds:>8.2f}!{'WRONG':>10}{_fmt(r.peak_rss_mb, '.0f'):>8}"
        else:
            base += f"{'FAILED':>9}{'-':>10}{'-':>8}"
        if not rel:
            mark = "*" if r.extrapolated_from else ""
            lines.append(base + ("  (peer, capped rows*)" if mark else ""))
        for i, c in enumerate(rel):
            prefix = base if i == 0 else " " * len(base)
            vs = {
                "full load vs GenericTransfer": "GT", "full load vs psql binary pipe": "pipe",
                "full load vs slower limit": "limit",
                **{f"full load vs {k}": v for k, v in FASTER_THAN.items()},
            }.get(c.name, "")  # fmt: skip
            if c.name.startswith("incremental"):
                val = f"{_fmt(c.value, '.2f')}x floor"
            elif c.name.startswith("peak RSS"):
                val = f"4N/N {_fmt(c.value, '.2f')}"
            else:
                val = f"{_fmt(c.value, '.2f')}x {vs}"
            if c.target == "info":
                lines.append(f"{prefix}  {val}")
            else:
                lines.append(f"{prefix}  {val + ' (' + c.target + ')':<28}{_yes(c.met)}")
    failed = [r for r in results if not r.ok]
    if failed:
        lines.append("")
        lines.append(
            "FAILED runs (a time marked ! finished with a wrong result: shown, never counted as ok):"
        )
        lines += [f"  {r.pair} {r.contender} {r.phase}: {r.error}" for r in failed]
    notes = sorted({f"{r.contender} {r.pair}: {n}" for r in results for n in r.notes})
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  {n}" for n in notes]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import os

    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(results: list[Result], cks: list[Check], meta: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **meta,
        "results": [r.to_dict() for r in results],
        "checks": [asdict(c) for c in cks],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")

"""Data for the API-at-scale benchmark (``python -m bench.api_scale``) and the API's pushdown tests.

Jobs are created through the real store (``store.create_job``: one Variable each, validated, with a parse
request) and their DAGs parsed into the metadata DB by Airflow's own DagBag code (as the dag-processor does).
Runs are real ``dag_run`` / ``task_instance`` / ``xcom`` / ``dag_run_note`` rows as the scheduler, the task
processes and cancelJob leave them — bulk-inserted, since running 10,000 DAG runs would take hours:
pre_job, one task per query and post_job per run, each successful query with its engine summary as XCom
``return_value``, failed queries with an ``error`` XCom, cancelled runs with cancelJob's note. States,
run types, hosts, start times (spread over 60 days) and record counts vary with a seeded RNG, so two runs of
the benchmark see the same data.

Everything here needs a configured Airflow (the caller sets ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` first).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: cron of the scheduled jobs (CData form), in turn
CRONS = ("0 2 * * *", "*/15 * * * *", "30 6 * * 2-6", "0 0 L * ?")
HOSTS = ("worker-a.example.net", "worker-b.example.net", "worker-c.example.net")
TABLES = ("Orders", "OrderLines", "Customers", "Products", "Invoices", "Payments", "Shipments")


def job_name(n: int) -> str:
    """The n-th benchmark job's name (``job_0001``...)."""
    return f"job_{n:04d}"


def job_body(n: int, source: str, destination: str) -> dict[str, Any]:
    """A create body as a CData client sends it: 1-5 queries, every fourth job scheduled, some notified."""
    body: dict[str, Any] = {"JobName": job_name(n), "Source": source, "Destination": destination}
    for q in range(1 + n % 5):
        table = TABLES[(n + q) % len(TABLES)]
        body[f"Query#{q + 1}"] = (
            f"REPLICATE [{table}]" if q % 2 == 0 else f"REPLICATE [{table}_{q}] SELECT * FROM [{table}]"
        )
    if n % 4 == 0:
        body.update(Scheduled="True", ScheduledCron=CRONS[(n // 4) % len(CRONS)])
    if n % 7 == 0:
        body.update(SendEmailNotification="True", NotifyEmailTo="ops@example.com", EmailErrorOnly="True")
    if n % 3 == 0:
        body.update(TableNamePrefix="stg_", Verbosity="3")
    return body


def create_jobs(count: int, source: str, destination: str) -> list[Any]:
    """``count`` jobs through the store, one transaction each (as the API writes them)."""
    from airflow_sync.jobs import store
    from airflow_sync.jobs.model import Job

    return [store.create_job(Job.from_wire(job_body(n, source, destination))) for n in range(1, count + 1)]


def parse_dags() -> int:
    """Parse the project's DAG shim (every stored job) into the metadata DB as the dag-processor does.

    :returns: the number of DAGs written
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    if not bundle.is_initialized:
        bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    if bag.import_errors:
        raise RuntimeError(f"the DAG shim did not import: {bag.import_errors}")
    sync_bag_to_db(bag, bundle.name, bundle.version)
    return len(bag.dags)


@dataclass(frozen=True)
class RunPlan:
    """One run to write: its job (name, job id, query task ids), outcome and times."""

    dag_id: str
    job_id: str
    task_ids: tuple[str, ...]
    state: str  # success | failed | cancelled | cancelled_late | skipped_tick | running | queued
    run_type: str  # scheduled | manual
    start: datetime
    seconds: int
    failed_query: int | None  # index of the failing query of a failed run
    records: tuple[int, ...]  # records affected per query
    host: str


def plan_runs(
    jobs: Sequence[Any], total: int, *, now: datetime, deleted: int = 20, active: int = 40, seed: int = 7
) -> list[RunPlan]:
    """``total`` runs spread over ``jobs`` (plus ``deleted`` job names no longer in the store), newest last.

    About 75 % successful, 12 % failed, 5 % cancelled; the newest run of ``active`` jobs is still running or
    queued.
    """
    from airflow_sync import settings

    prefix = settings.get_str("dag_id_prefix")
    rng = random.Random(seed)
    owners = [(prefix + j.name, j.job_id, tuple(j.query_task_ids())) for j in jobs]
    owners += [
        (f"{prefix}deleted_{d:03d}", f"00000000-0000-4000-8000-{d:012d}", ("replicate_Gone",))
        for d in range(deleted)
    ]
    step = timedelta(days=60) / max(total, 1)
    plans: list[RunPlan] = []
    latest: dict[str, int] = {}
    for i in range(total):
        dag_id, job_id, task_ids = owners[rng.randrange(len(owners))]
        roll = rng.random()
        state = (
            "success"
            if roll < 0.76
            else "failed"
            if roll < 0.89
            else "cancelled"
            if roll < 0.94
            else "cancelled_late"  # cancelJob came after every query had committed: Successful
            if roll < 0.97
            else "skipped_tick"  # a scheduled tick that fell while the job ran: the PreJob cancelled it
        )
        n = len(task_ids)
        plans.append(
            RunPlan(
                dag_id=dag_id,
                job_id=job_id,
                task_ids=task_ids,
                state=state,
                run_type="scheduled" if rng.random() < 0.6 else "manual",
                start=now - timedelta(days=60) + step * i + timedelta(seconds=rng.randrange(0, 50)),
                seconds=rng.randrange(2, 900),
                failed_query=rng.randrange(n) if state == "failed" and n else None,
                records=tuple(rng.choice((0, 1, 25, 480, 12_000, 250_000)) for _ in range(n)),
                host=rng.choice(HOSTS),
            )
        )
        latest[dag_id] = i
    # the newest run of a few jobs has not ended yet
    for k, index in enumerate(sorted(latest.values())[-active:] if active else []):
        p = plans[index]
        plans[index] = RunPlan(
            **{**p.__dict__, "state": "running" if k % 2 else "queued", "start": now - timedelta(seconds=30)}
        )
    return plans


def write_runs(plans: Sequence[RunPlan], *, batch: int = 1000, engine: Any = None) -> None:
    """Insert the runs with their task instances, XComs and notes (bulk, ``batch`` runs per transaction).

    :param engine: where to write (default: Airflow's metadata DB)
    """
    import contextlib

    from airflow.models.dagrun import DagRun, DagRunNote
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    def session_scope() -> Any:
        if engine is None:
            return create_session()
        return contextlib.closing(Session(engine))

    from airflow_sync.api.services.runs import CANCEL_NOTE_PREFIX

    for offset in range(0, len(plans), batch):
        chunk = plans[offset : offset + batch]
        runs, tis, xcoms, notes = [], [], [], []
        keys = []
        for i, p in enumerate(chunk, start=offset):
            kind = "scheduled" if p.run_type == "scheduled" else "manual"
            run_id = f"{kind}__{p.start.isoformat()}_{i}"
            ended = p.state not in ("running", "queued")
            end = p.start + timedelta(seconds=p.seconds) if ended else None
            runs.append(
                {
                    "dag_id": p.dag_id,
                    "run_id": run_id,
                    "run_type": kind,
                    "state": _RUN_STATE.get(p.state, p.state),
                    "queued_at": p.start - timedelta(seconds=2),
                    "start_date": None if p.state == "queued" else p.start,
                    "end_date": end,
                    "logical_date": p.start,
                    "run_after": p.start,
                    "data_interval_start": p.start,
                    "data_interval_end": p.start,
                    "conf": {"job_version": "bench", "job_id": p.job_id} if kind == "manual" else {},
                    "triggered_by": "REST_API" if kind == "manual" else "TIMETABLE",
                }
            )
            keys.append((p, run_id, end))
        with session_scope() as session:
            session.execute(insert(DagRun.__table__), runs)
            ids = dict(
                session.execute(
                    select(DagRun.run_id, DagRun.id).where(DagRun.run_id.in_([k[1] for k in keys]))
                ).all()
            )
            for p, run_id, end in keys:
                run_pk = ids[run_id]
                _task_rows(p, run_id, run_pk, end, tis, xcoms)
                if p.state in ("cancelled", "cancelled_late"):
                    notes.append({"dag_run_id": run_pk, "content": f"{CANCEL_NOTE_PREFIX} by bench"})
            session.execute(insert(TaskInstance.__table__), tis)
            if xcoms:
                session.execute(insert(XComModel.__table__), xcoms)
            if notes:
                session.execute(insert(DagRunNote.__table__), notes)
            if engine is not None:
                session.commit()


#: the DagRun state each planned outcome leaves
_RUN_STATE = {"cancelled": "failed", "cancelled_late": "failed", "skipped_tick": "success"}


def _task_rows(p: RunPlan, run_id: str, run_pk: int, end: datetime | None, tis: list, xcoms: list) -> None:
    from airflow.models.xcom import XComModel

    ended = end is not None
    base = {"dag_id": p.dag_id, "run_id": run_id, "map_index": -1, "pool": "default_pool", "try_number": 1}

    def ti(task_id: str, state: str | None, start: datetime | None, stop: datetime | None) -> None:
        tis.append(
            base
            | {
                "task_id": task_id,
                "state": state,
                "start_date": start,
                "end_date": stop,
                "duration": (stop - start).total_seconds() if start and stop else None,
                "hostname": p.host if start else None,
                "operator": "JobEventOperator" if task_id in ("pre_job", "post_job") else "ReplicateOperator",
            }
        )

    def xcom(task_id: str, key: str, value: Any, at: datetime) -> None:
        xcoms.append(
            {
                "dag_run_id": run_pk,
                "task_id": task_id,
                "map_index": -1,
                "key": key,
                "dag_id": p.dag_id,
                "run_id": run_id,
                "value": XComModel.serialize_value(value),
                "timestamp": at,
            }
        )

    if p.state == "queued":
        return
    started = p.start
    ti("pre_job", "success", started, started + timedelta(seconds=1))
    skipped = p.state == "skipped_tick"
    pre: dict[str, Any] = {"cancel_job": skipped, "env": {}}
    if skipped:
        pre["skipped_tick"] = (
            f"the schedule tick at {started.isoformat()} fell while an earlier run was going"
        )
    xcom("pre_job", "return_value", pre, started)
    per = max(p.seconds - 2, len(p.task_ids)) / max(len(p.task_ids), 1)
    for q, task_id in enumerate(p.task_ids):
        t0 = started + timedelta(seconds=1 + q * per)
        t1 = t0 + timedelta(seconds=per)
        if skipped:
            ti(task_id, "skipped", None, None)
            continue
        if p.state == "running" and q == len(p.task_ids) - 1:
            ti(task_id, "running", t0, None)
            continue
        failed = p.failed_query == q or (p.state == "cancelled" and q == len(p.task_ids) - 1)
        if failed:
            ti(task_id, "failed", t0, t1)
            if p.state == "failed":
                xcom(task_id, "error", f"table {task_id} is locked by another session", t1)
            continue
        ti(task_id, "success", t0, t1)
        records = p.records[q]
        summary = {
            "rows_read": records,
            "records_affected": records,
            "inserted": records,
            "updated": 0,
            "deleted": 0,
            "seconds": round(per, 3),
            "mode": "full",
        }
        xcom(task_id, "return_value", summary, t1)
    if ended:
        ti("post_job", "success", end - timedelta(seconds=1), end)

"""The DAG factory: one DAG per stored job (design D4/D5/D7).

Shape of every job DAG::

    pre_job  →  <query task per REPLICATE query, in job order>  →  post_job (teardown)  →  finish
                                                                                  └→  notify (teardown)

* ``ContinueOnError=False`` (and sequential): the query tasks are chained with ``all_success``, so a failed
  query leaves the later ones ``upstream_failed``.
* ``ContinueOnError=True`` (the default): every query task depends on ``pre_job`` only, so a failed query
  does not stop the others, and each query is a leaf of the run, so any failure makes the run Failed.
  Job order is kept by the scheduler: ``max_active_tasks`` = ``[airflow_sync] default_parallelism``
  (1 = one query at a time) and descending absolute priority weights (first query first).
* ``post_job`` is a teardown: it runs after failures and after a cancel, and it never masks a failed query
  in the run state (a plain ``all_done`` leaf would). ``finish`` (a no-op the scheduler completes itself)
  is the leaf that makes a failed PostJob fail the run; cancelJob marks it failed too, so a cancelled run
  ends failed in Airflow whatever was still pending.
* ``notify`` (only when the job sends e-mail or syslog notifications) is a second teardown after
  ``post_job``: it reports the final outcome, and a notification that cannot be sent fails it without
  failing the run.
* ``pre_job``, ``post_job`` and ``notify`` are retried (a lost worker does not lose the PreJob, the PostJob
  or the e-mail); their code fails at once on errors another attempt cannot fix.
* every query task declares its destination table as an outlet Asset (:mod:`airflow_sync.dags.assets`), so
  DAGs scheduled on that Asset run after each successful replication into it.

* the schedule is a ``CronTriggerTimetable`` starting just after the schedule's last change, so a new,
  enabled or changed schedule starts no run before its next tick (:mod:`airflow_sync.dags.schedule`).

Building is deterministic (no ``now()``, sorted input). A stored job that cannot be built is logged with
its name and skipped, unless ``[airflow_sync] strict_mode`` is on (tests), which re-raises.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from airflow_sync import settings as settings_mod
from airflow_sync.dags.assets import query_assets
from airflow_sync.dags.event_tasks import JobEventOperator, NotifyOperator
from airflow_sync.dags.operators import FINISH, ReplicateOperator
from airflow_sync.dags.schedule import dag_timetable, start_date
from airflow_sync.notifications import wants_notification

if TYPE_CHECKING:
    from airflow_sync.jobs.model import Job
    from airflow_sync.settings import Settings

log = logging.getLogger(__name__)

#: transient replication errors (connection reset, deadlock) are retried; terminal ones fail at once
QUERY_RETRIES = 2
QUERY_RETRY_DELAY = timedelta(seconds=20)
#: pre_job, post_job and notify: another worker picks them up when theirs is lost
EVENT_RETRIES = 2
EVENT_RETRY_DELAY = timedelta(seconds=5)
_TAG_MAX = 100  # Airflow's dag_tag.name length


def _tags(job: Job) -> list[str]:
    return [t[:_TAG_MAX] for t in ("airflow_sync", f"source:{job.source}", f"destination:{job.destination}")]


def sync_jobs_path(job_name: str) -> str:
    """The job's page in the Sync Jobs app, relative to the Airflow UI's base (works under a sub-path)."""
    from urllib.parse import quote

    return f"plugin/sync-jobs/jobs/{quote(job_name, safe='')}"


def doc_md(job: Job) -> str:
    """Markdown shown on the DAG page: connections, schedule, every set option and every query."""
    wire = job.to_wire()
    rows = [
        f"| {name} | `{str(value).replace('|', '&#124;')}` |"
        for name, value in wire.items()
        if not name.lower().startswith("query#") and name not in ("JobName", "Source", "Destination")
    ]
    queries = "\n".join(
        f"{n}. `{task_id}`\n\n   ```sql\n   {text}\n   ```"
        for n, (task_id, text) in enumerate(zip(job.query_task_ids(), job.queries, strict=False), start=1)
    )
    schedule = job.schedule or "none (runs when triggered)"
    return (
        f"### airflow_sync job `{job.name}`\n\n"
        f"**Source:** `{job.source}` → **Destination:** `{job.destination}`  \n"
        f"**Schedule:** `{schedule}`  \n**Version:** `{job.version}`\n\n"
        f"#### Queries\n\n{queries}\n\n"
        "#### Options\n\n| Field | Value |\n|---|---|\n" + "\n".join(rows) + "\n\n"
        f"**[Open {job.name} in Sync Jobs]({sync_jobs_path(job.name)})**: queries, history, logs, editor. "
        "Also editable through the airflow_sync Job API or `airflow-sync jobs apply`; "
        'run a subset with conf `{"queries": ["<task id>", ...]}` (the Trigger form offers them).\n'
    )


#: longest query text shown in the trigger form's picker (the whole query is in the DAG docs)
_PICK_LABEL_MAX = 90


def trigger_params(job: Job) -> dict[str, Param]:
    """The Trigger form of the Airflow UI: a ``queries`` multi-select of the job's query task ids.

    The operators read ``dag_run.conf["queries"]``; an empty list (the form's default) or no key means every
    query. Airflow validates a run's conf against these params when the run is created (UI, REST API,
    ``executeJob``, ``dag.test()``), so an unknown task id is refused there, before anything runs; other
    conf keys (``job_version``, ``job_id``) are not declared and pass as they are.

    :param job: the job
    """
    ids = list(job.query_task_ids())
    items: dict[str, Any] = {"type": "string"}
    pick: dict[str, Any] = {}
    if ids:
        items["enum"] = ids  # validation
        labels = {}
        for n, (task_id, text) in enumerate(zip(ids, job.queries, strict=True), start=1):
            short = " ".join(text.split())
            if len(short) > _PICK_LABEL_MAX:
                short = short[: _PICK_LABEL_MAX - 1] + "…"
            labels[task_id] = f"{n}. {short}"
        pick = {"examples": ids, "values_display": labels}  # the UI's multi-select pick list
    return {
        "queries": Param(
            default=[],
            type="array",
            items=items,
            uniqueItems=True,
            title="Queries",
            description="Run only these queries; leave empty to run every query of the job.",
            **pick,
        )
    }


def build_dag(job: Job, *, cfg: Settings | None = None) -> DAG:
    """The DAG of one job (no DB access, no connections resolved).

    :param job: the job
    :param cfg: settings snapshot (default: read the ``[airflow_sync]`` section)
    """
    cfg = cfg or settings_mod.load()
    ids = job.query_task_ids()
    assets = query_assets(job)
    parallelism = max(1, cfg.default_parallelism)
    chained = not job.continue_on_error and parallelism == 1
    with DAG(
        dag_id=job.dag_id(cfg.dag_id_prefix),
        description=f"Replication job {job.name}: {job.source} -> {job.destination}",
        # the next cron tick after the last schedule change, never a missed one (dags/schedule.py)
        schedule=dag_timetable(job),
        start_date=start_date(job),
        catchup=False,
        max_active_runs=1,
        max_active_tasks=parallelism,
        # Unscheduled jobs run only when triggered, and a paused DAG's manual runs would stay queued.
        is_paused_upon_creation=False,
        tags=_tags(job),
        doc_md=doc_md(job),
        default_args={"owner": cfg.owner, "retries": 0},
        params=trigger_params(job),
    ) as dag:
        events: dict[str, Any] = {"retries": EVENT_RETRIES, "retry_delay": EVENT_RETRY_DELAY}
        pre = JobEventOperator(job_name=job.name, phase="pre", verbosity=job.verbosity, **events)
        queries = [
            ReplicateOperator(
                job_name=job.name,
                query_id=task_id,
                verbosity=job.verbosity,
                retries=QUERY_RETRIES,
                retry_delay=QUERY_RETRY_DELAY,
                priority_weight=len(ids) - n,
                weight_rule="absolute",
                doc_md=f"```sql\n{text}\n```",
                # an event only when the task succeeds: Airflow emits none for skipped or failed tasks
                outlets=[assets[task_id]] if task_id in assets else [],
            )
            for n, (task_id, text) in enumerate(zip(ids, job.queries, strict=True))
        ]
        post = JobEventOperator(
            job_name=job.name, phase="post", query_ids=ids, verbosity=job.verbosity, **events
        )
        if chained:
            previous: Any = pre
            for task in queries:
                previous >> task
                previous = task
            previous >> post
        else:
            for task in queries:
                pre >> task >> post
            if not queries:
                pre >> post
        post.as_teardown()
        post >> EmptyOperator(task_id=FINISH)
        if wants_notification(job):
            notify = NotifyOperator(job_name=job.name, query_ids=ids, verbosity=job.verbosity, **events)
            post >> notify
            notify.as_teardown()
    return dag


def generate(namespace: dict[str, Any]) -> list[str]:
    """Build every stored job's DAG into ``namespace`` (the shim passes ``globals()``).

    :param namespace: where to put the DAG objects
    :returns: the generated DAG ids
    """
    from airflow_sync.jobs import store

    cfg = settings_mod.load()
    built = []
    for key, raw in store.load_raw_for_parsing():
        name = key[len(store.VARIABLE_PREFIX) :]
        try:
            if raw is None:
                continue
            job = store.decode(key, raw)
            dag = build_dag(job, cfg=cfg)
        except Exception:
            if cfg.strict_mode:
                raise
            log.exception("airflow_sync: job %r cannot be turned into a DAG; skipped", name)
            continue
        namespace[dag.dag_id] = dag
        built.append(dag.dag_id)
    return built

"""The job actions (job-api §4): executeJob, executeQuery, cancelJob, getJobStatus.

Every action takes ``JobName`` or ``JobId`` in a flat JSON or form body. executeJob/executeQuery wait for
the run by default (``WaitForResults``), as an ``async`` route that polls the metadata DB with backoff —
no server thread is held while a client waits.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from airflow_sync import settings
from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.errors import ApiError
from airflow_sync.api.models import (
    ExecuteJobBody,
    ExecuteQueryBody,
    JobKeyBody,
    JobStatusBody,
    JobStatusResponse,
    ResultCollectionResponse,
    body_doc,
    error_docs,
)
from airflow_sync.api.services import results, runs
from airflow_sync.api.services.common import (
    dag_id_for,
    get_field,
    in_session,
    job_key,
    resolve_job,
    run_db,
)
from airflow_sync.api.services.waiting import poll, wait_seconds
from airflow_sync.api.wire import envelope, read_body, to_bool, to_int
from airflow_sync.status import FINAL

router = APIRouter(tags=["actions"])

#: how long executeJob waits for a just-created or just-changed job's DAG to be parsed
DAG_WAIT_SECONDS = 30.0
#: while waiting for a DAG, how often to ask the dag-processor again (it may have dropped a request)
REPARSE_EVERY_SECONDS = 2.0
TERMINAL = FINAL
_DAG_ERRORS = {
    "missing": "DagNotReady",
    "stale": "DagNotReady",
    "outdated": "DagNotReady",
    "import_error": "DagImportError",
    "paused": "JobPaused",
}
_QUERY_FIELD_PREFIX = "query#"


def _job_for(key: str, principal: Principal, action: Any, *, session: Any) -> Any:
    job = resolve_job(key, session=session)
    principal.authorize(action, dag_id_for(job.name))
    return job


def _check_and_nudge(job: Any, nudge: list[float], *, session: Any) -> runs.DagCheck:
    """The DAG's readiness; while it is not parsed yet, ask for a parse again every few seconds.

    The dag-processor drops a priority request that arrives while it is parsing the same file (the file is
    then parsed again only after ``min_file_process_interval``, 30 s by default): a job created and
    executed at once must not wait for that, so the request is repeated until the DAG is there.
    """
    import time

    from airflow_sync.jobs import store

    check = runs.check_dag(job, session=session)
    if check.may_appear and time.monotonic() - nudge[0] >= REPARSE_EVERY_SECONDS:
        store.request_reparse(session)
        nudge[0] = time.monotonic()
    return check


async def _wait_for_dag(job: Any) -> None:
    """Wait (polling) while the DAG is not parsed yet; refuse DAGs that cannot run."""
    import time

    nudge = [time.monotonic()]  # the job's write requested the first parse
    check, _ = await poll(
        lambda: in_session(_check_and_nudge, (job, nudge), {}),
        lambda c: not c.may_appear,
        timeout=DAG_WAIT_SECONDS,
        first_delay=0.1,
        max_delay=1.0,
    )
    if not check.ready:
        hint = " Try again in a few seconds." if check.may_appear else ""
        raise ApiError(409, _DAG_ERRORS[check.state], check.message + "." + hint)


def _run_rows(job: Any, run_id: str, *, only: list[str] | None, session: Any) -> list[dict[str, Any]]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id_for(job.name), DagRun.run_id == run_id))
    rows = results.result_rows(job, run, session=session)
    if only is not None:  # executeQuery: rows for the selected queries only
        wanted = {job.queries[job.query_task_ids().index(t)] for t in only}
        rows = [rows[0]] + [r for r in rows[1:] if r["Query"] in wanted]
    return rows


def _start(job: Any, principal: Principal, queries: list[str] | None, *, session: Any) -> str:
    run = runs.start_run(job, user=principal.name, queries=queries, session=session)
    return run.run_id


async def _execute(
    request: Request,
    principal: Principal,
    body: dict[str, Any],
    *,
    action: str,
    select_queries: bool,
) -> dict[str, Any]:
    wait = to_bool(get_field(body, "WaitForResults"), field="WaitForResults", default=True)
    if to_bool(get_field(body, "Async"), field="Async", default=False):  # legacy alias
        wait = False
    timeout = to_int(get_field(body, "Timeout"), field="Timeout", default=0, minimum=0)
    key = job_key(body)
    assert key is not None
    job = await run_db(_job_for, key, principal, "run")
    selected = _selected_queries(job, body) if select_queries else None
    await _wait_for_dag(job)
    run_id = await run_db(_start, job, principal, selected)

    def read() -> list[dict[str, Any]]:
        return in_session(_run_rows, (job, run_id), {"only": selected})

    if wait:
        cap = settings.get_int("max_wait_seconds")
        rows, _ = await poll(
            read, lambda r: r[0]["Status"] in TERMINAL, timeout=wait_seconds(timeout, cap=cap)
        )
    else:
        rows = await run_db(_run_rows, job, run_id, only=selected)
    return envelope(request, action, rows)


def _selected_queries(job: Any, body: dict[str, Any]) -> list[str]:
    """Task ids of the queries named in ``Query``/``Query#N`` (by text or TaskId), in job order; 400 naming an
    unknown one."""
    from airflow_sync.jobs.replicate import normalize_query_text

    sent: list[tuple[str, str]] = []
    for name, value in body.items():
        low = name.lower()
        if low == "query" or (
            low.startswith(_QUERY_FIELD_PREFIX) and low[len(_QUERY_FIELD_PREFIX) :].isdigit()
        ):
            if isinstance(value, int) and not isinstance(value, bool):  # a TaskId sent as a JSON number
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                raise ApiError(400, "InvalidParameter", f"{name} must be a query of the job.", target=name)
            sent.append((name, value))
    if not sent:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Name at least one query of job '{job.name}' to run (Query#1, Query#2 ...).",
            target="Query#1",
        )
    by_text = {normalize_query_text(q): tid for q, tid in zip(job.queries, job.query_task_ids(), strict=True)}
    # a value may also be a task's TaskId (the tasks API's id of that query)
    by_task_id = dict(zip(job.task_ids, job.query_task_ids(), strict=True))
    chosen: set[str] = set()
    for name, value in sorted(sent, key=lambda nv: _query_number(nv[0])):
        task_id = by_task_id.get(value.strip()) or by_text.get(normalize_query_text(value))
        if task_id is None:
            raise ApiError(
                400,
                "UnknownQuery",
                f"{name} is not one of the queries of job '{job.name}': {value.strip()[:200]!r}. "
                "executeQuery runs queries of the job only (compared ignoring whitespace), or names them by "
                "TaskId.",
                target=name,
            )
        chosen.add(task_id)
    return [t for t in job.query_task_ids() if t in chosen]


def _query_number(name: str) -> int:
    digits = name.lower().removeprefix(_QUERY_FIELD_PREFIX)
    return int(digits) if digits.isdigit() else 0


@router.post(
    "/executeJob",
    summary="Run a job; by default wait for the end (WaitForResults, Timeout) and return per-query rows",
    responses={200: {"model": ResultCollectionResponse}, **error_docs(400, 401, 403, 404, 409, 413)},
    openapi_extra=body_doc(ExecuteJobBody),
)
async def execute_job(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    return await _execute(request, principal, body, action="executeJob", select_queries=False)


@router.post(
    "/executeQuery",
    summary="Run only the named queries of a job (Query#1..n); the others are skipped",
    responses={200: {"model": ResultCollectionResponse}, **error_docs(400, 401, 403, 404, 409, 413)},
    openapi_extra=body_doc(ExecuteQueryBody),
)
async def execute_query(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    return await _execute(request, principal, body, action="executeQuery", select_queries=True)


def _cancel_request(key: str, principal: Principal, *, session: Any) -> tuple[Any, runs.CancelRequest]:
    job = _job_for(key, principal, "cancel", session=session)
    return job, runs.cancel_request(job, user=principal.name, session=session)


def _cancel_stop(job: Any, request: runs.CancelRequest, *, session: Any) -> list[dict[str, Any]]:
    run = runs.cancel_stop(job, request, session=session)
    return results.result_rows(job, run, session=session, per_query=False)


async def _cancel(key: str, principal: Principal) -> list[dict[str, Any]]:
    """cancelJob in three steps: ask the run to stop (no COMMIT happens after this); wait for COMMITs that
    were already being sent (bounded); stop what still runs. The answer then says what the destination
    holds: Cancelled, or Successful when every load committed before the cancel took effect."""
    job, request = await run_db(_cancel_request, key, principal)
    if not request.ended:
        await poll(
            lambda: in_session(runs.commits_under_way, (request.dag_id, request.run_id), {}),
            lambda waiting: not waiting,
            timeout=float(settings.get_int("cancel_commit_wait_seconds")),
            first_delay=0.05,
            max_delay=0.5,
        )
    return await run_db(_cancel_stop, job, request)


@router.post(
    "/cancelJob",
    summary="Cancel the job's queued or running run (marked failed in Airflow with a 'Cancelled' note)",
    responses={200: {"model": ResultCollectionResponse}, **error_docs(400, 401, 403, 404, 409, 413)},
    openapi_extra=body_doc(JobKeyBody),
)
async def cancel_job(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    key = job_key(body)
    assert key is not None  # job_key raises a 400 when neither JobName nor JobId is given
    return envelope(request, "cancelJob", await _cancel(key, principal))


def _status_one(key: str, principal: Principal, *, session: Any) -> tuple[Any, list]:
    job = _job_for(key, principal, "read", session=session)
    run = runs.latest_run(dag_id_for(job.name), session=session)
    return job, results.result_rows(job, run, session=session)


def _status_all(principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    from airflow_sync.jobs import store

    every = store.list_jobs(session=session)
    visible = principal.filter_allowed("read", [dag_id_for(j.name) for j in every])
    jobs = [j for j in every if dag_id_for(j.name) in visible]
    return results.latest_rows_for_jobs(jobs, session=session)


@router.post(
    "/getJobStatus",
    summary="Latest run of one job (job row + one row per query) or of every job (one row each)",
    responses={200: {"model": JobStatusResponse}, **error_docs(400, 401, 403, 404, 413)},
    openapi_extra=body_doc(JobStatusBody, required=False),
)
async def get_job_status(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    per_query = to_bool(get_field(body, "PushOnQuery"), field="PushOnQuery", default=True)
    key = job_key(body, required=False)
    if key is None:
        return envelope(request, "getJobStatus", await run_db(_status_all, principal))
    job, rows = await run_db(_status_one, key, principal)
    out = envelope(request, "getJobStatus", rows if per_query else rows[:1])
    # some CData clients read this response flat: JobName / Status / Queries beside value
    out.update(JobName=job.name, JobId=job.job_id, Status=rows[0]["Status"], Queries=rows[1:])
    return out

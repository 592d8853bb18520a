"""``getLogs`` (aliases ``getJobLog``, ``getlogs``): the task logs of a job's recent runs, base64 encoded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from airflow_sync.api.auth import CurrentPrincipal, Principal
from airflow_sync.api.models import LogCollectionResponse, LogsBody, body_doc, error_docs
from airflow_sync.api.services.common import dag_id_for, get_field, job_key, run_db
from airflow_sync.api.services.logs import log_rows
from airflow_sync.api.wire import envelope, read_body, to_int
from airflow_sync.exceptions import JobNotFoundError

router = APIRouter(tags=["logs"])

#: how far back getLogs reaches (ten years: beyond any log retention)
MAX_DAYS = 3650


def _rows(key: str, days: int, principal: Principal, *, session: Any) -> list[dict[str, Any]]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    from airflow_sync.jobs import store

    try:
        job = store.find_job(key, session=session)
        name, queries = job.name, dict(zip(job.query_task_ids(), job.queries, strict=True))
    except JobNotFoundError:
        # a deleted job's runs (and logs) are kept: its name still reaches them
        if (
            "\x00" in key
            or session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id_for(key)).limit(1)) is None
        ):
            raise
        name, queries = key, {}
    principal.authorize("read", dag_id_for(name))
    return log_rows(dag_id_for(name), days=days, queries=queries, session=session)


@router.post(
    "/getLogs",
    summary="Task logs of the job's runs of the last Days days; Content is base64 of each attempt's log",
    responses={200: {"model": LogCollectionResponse}, **error_docs(400, 401, 403, 404, 413)},
    openapi_extra=body_doc(LogsBody),
)
async def get_logs(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    body = await read_body(request)
    key = job_key(body)
    raw_days = get_field(body, "Days")
    days = to_int(raw_days, field="Days", default=1, minimum=1, maximum=MAX_DAYS)
    return envelope(request, "getLogs", await run_db(_rows, key, days, principal))

"""The Airflow Asset each REPLICATE task declares for its destination table.

Naming: ``airflow_sync://<destination conn id>/<schema or "default">/<table>``, where schema and table are
what the engine writes to (:func:`airflow_sync.jobs.options.build_plan`: ``TableNamePrefix`` for implicit
names, ``CacheSchema`` unless the statement names a schema). Each part is percent-encoded (RFC 3986
unreserved characters stay as they are), so ``/`` in a name cannot shift the parts and the URI stays ASCII
(Airflow requires ASCII asset names on a MySQL metadata DB).

The asset's ``name`` is the URI too. Airflow keeps asset names and URIs each unique among active assets: a
different "readable" name would make a consumer's ``Asset("airflow_sync://...")`` (name = URI) a second asset
with the same URI, which Airflow leaves inactive; consumers would never run and our tasks would fail their
outlet check. With name = URI, ``Asset(uri)``, ``Asset(name=uri)``, ``Asset.ref(uri=...)`` and
``Asset.ref(name=...)`` all mean the same asset.

``airflow_sync`` is not a valid RFC 3986 scheme (``_``), so Airflow stores the URI as an opaque string: no
normalisation, no warning (checked against ``airflow.sdk.definitions.asset._sanitize_uri`` of Airflow 3.3).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from airflow_sync.jobs.model import Job
    from airflow_sync.jobs.statement import ReplicateStatement

log = logging.getLogger(__name__)

SCHEME = "airflow_sync"
DEFAULT_SCHEMA = "default"


def table_uri(conn_id: str, schema: str | None, table: str) -> str:
    """``airflow_sync://<conn id>/<schema or "default">/<table>``, each part percent-encoded.

    :param conn_id: the destination Airflow connection id
    :param schema: destination schema, None or "" = the connection's default
    :param table: destination table name, exactly as the engine creates it
    """
    parts = (conn_id, schema or DEFAULT_SCHEMA, table)
    return f"{SCHEME}://" + "/".join(quote(p, safe="") for p in parts)


def destination_uri(job: Job, stmt: ReplicateStatement, query_id: str) -> str:
    """The asset URI of one query's destination table (the engine's own name resolution).

    ``{env:NAME}`` placeholders in ``CacheSchema``/``TableNamePrefix`` are not known at parse time and stay
    in the name as written.

    :param job: the job
    :param stmt: one of ``job.statements``
    :param query_id: its task id
    :raises JobValidationError: an option of the query is invalid (the task would fail the same way)
    """
    from airflow_sync.jobs.options import build_plan

    plan = build_plan(job, stmt, query_id)
    return table_uri(job.destination, plan.destination_schema, plan.destination)


def query_assets(job: Job) -> dict[str, Asset]:
    """``{task id: Asset}`` for every query of the job whose destination can be resolved.

    A query whose options do not resolve gets no asset (its task fails at run time with the real error);
    the rest of the DAG is still built.

    :param job: the job
    """
    from airflow.sdk import Asset

    from airflow_sync.exceptions import JobValidationError

    assets = {}
    for query_id, stmt in zip(job.query_task_ids(), job.statements, strict=True):
        try:
            uri = destination_uri(job, stmt, query_id)
        except JobValidationError as exc:
            log.warning("job %s, query %s: no asset declared: %s", job.name, query_id, exc)
            continue
        assets[query_id] = Asset(name=uri, uri=uri)
    return assets

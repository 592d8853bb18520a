"""Example airflow DAG: run a Sync job from your own DAG with ``SyncJobOperator``, then use its result rows.

The job can live in this project's Job API (``/api.rsc`` on the Airflow api-server) or on a CData Sync
server: both speak the same API. Set up one Airflow connection ``cdata_sync_default`` of type ``cdata_sync``
(host and port of the server, password = an API token). Nothing connects while this file is parsed.

The operator starts the run, waits in the triggerer (deferrable) until the job's status is final, and fails
the task with the server's error text when the run fails or is cancelled; clearing or failing the waiting
task cancels the remote run.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, get_parsing_context, task

from airflow_sync.operators.sync_job import SyncJobOperator

DAG_ID = "example_sync_job_operator"

# A worker that parses this file to run one task of another DAG (e.g. a generated job DAG) skips this one.
if get_parsing_context().dag_id in (None, DAG_ID):
    with DAG(
        DAG_ID,
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        params={"job_name": Param("SF_to_PG", type="string", description="JobName of the Sync job to run")},
        tags=["airflow_sync", "example"],
        doc_md=__doc__,
    ):
        run_job = SyncJobOperator(
            task_id="run_sync_job",
            job_name="{{ params.job_name }}",
            poll_interval=15,
            timeout=2 * 3600,  # stop waiting after two hours (the run itself goes on)
        )

        @task
        def records_written(rows: list[dict]) -> int:
            """Downstream work on the run's per-query result rows (the job-level row has no Query)."""
            query_rows = [row for row in rows if row.get("Query")]
            per_query = {row["Query"]: int(row.get("RecordsAffected") or 0) for row in query_rows}
            for query, count in per_query.items():
                print(f"{count:>10}  {query}")
            return sum(per_query.values())

        records_written(run_job.output)

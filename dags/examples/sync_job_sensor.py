"""Example airflow DAG: wait until a Sync job has finished successfully, whoever started it, with
``SyncJobSensor`` — then work on the fresh tables.

The sensor reads the job's run history (``GET /api.rsc/history``) and succeeds on a ``Successful`` run that
started at or after ``since`` (default: the DAG run's data interval start). It waits in the triggerer
(deferrable). Uses the ``cdata_sync_default`` connection (type ``cdata_sync``, password = API token).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, get_parsing_context, task

from airflow_sync.sensors.sync_job import SyncJobSensor

DAG_ID = "example_sync_job_sensor"

# A worker that parses this file to run one task of another DAG (e.g. a generated job DAG) skips this one.
if get_parsing_context().dag_id in (None, DAG_ID):
    with DAG(
        DAG_ID,
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["airflow_sync", "example"],
        doc_md=__doc__,
    ):
        synced = SyncJobSensor(
            task_id="wait_for_sync_job",
            job_name="SF_to_PG",
            # a successful run in the 12 hours before this DAG run; on a schedule, leave `since` out to
            # wait for a run of the data interval instead
            since="{{ (dag_run.run_after - macros.timedelta(hours=12)).isoformat() }}",
            poke_interval=60,
            timeout=6 * 3600,
        )

        @task
        def build_report(run: dict) -> str:
            """The sensor's XCom is the matching history row."""
            print(f"Using run {run['Id']} started {run['RunStartDate']}: {run['RecordsAffected']} rows")
            return str(run["Id"])

        build_report(synced.output)

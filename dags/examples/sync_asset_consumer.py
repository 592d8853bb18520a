"""Example airflow DAG scheduled on fresh data: it runs whenever a generated Sync job DAG has replicated into
the destination table ``public.crm_Accounts`` of the connection ``warehouse``.

Every REPLICATE task of a generated job DAG declares an Airflow Asset for its destination table, named
``airflow_sync://<destination connection id>/<schema>/<table>``; a successful task marks it updated, and
Airflow then runs the DAGs scheduled on it.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, get_parsing_context, task

DAG_ID = "example_sync_asset_consumer"
CRM_ACCOUNTS = Asset("airflow_sync://warehouse/public/crm_Accounts")

# A worker that parses this file to run one task of another DAG (e.g. a generated job DAG) skips this one.
if get_parsing_context().dag_id in (None, DAG_ID):
    with DAG(
        DAG_ID,
        schedule=[CRM_ACCOUNTS],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["airflow_sync", "example"],
        doc_md=__doc__,
    ):

        @task(inlets=[CRM_ACCOUNTS])
        def refresh_account_report(*, triggering_asset_events=None) -> int:
            """Runs after each replication into crm_Accounts; the asset events say which runs produced it."""
            events = [e for evs in (triggering_asset_events or {}).values() for e in evs]
            for event in events:
                print(f"{event.asset.uri} updated at {event.timestamp} by {event.source_dag_id}")
            return len(events)

        refresh_account_report()

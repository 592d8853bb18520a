"""airflow_sync: CData Sync-style replication jobs for Apache Airflow 3."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

    The plugin is loaded through its own ``airflow.plugins`` entry point only; listing it here as well made
    every process log "already registered".
    """
    from airflow_sync.hooks.provider_info import client_provider_info
    from airflow_sync.settings import config_section

    return {
        "package-name": "airflow-sync",
        "name": "airflow_sync",
        "description": "CData Sync-style replication jobs as generated DAGs, with a CData-compatible "
        "Job Management REST API at /api.rsc.",
        "versions": [__version__],
        "config": config_section(),
        "db-managers": ["airflow_sync.db.manager.AirflowSyncDBManager"],
        **client_provider_info(),
    }

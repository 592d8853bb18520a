"""The ``[airflow_sync]`` configuration section, with documented defaults.

The option table below is the single source: ``get_provider_info()`` publishes it to Airflow (so
``airflow config get-value airflow_sync <option>`` works) and :func:`get` reads it with the same defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTION = "airflow_sync"

#: name -> (type, default, description)
OPTIONS: dict[str, tuple[str, str, str]] = {
    "dag_id_prefix": ("string", "sync__", "Prefix of the DAG id generated for each job: <prefix><JobName>."),
    "api_enabled": ("boolean", "True", "Serve the CData-compatible Job Management API at /api.rsc."),
    "allow_authtoken_in_url": (
        "boolean",
        "False",
        "Accept API tokens in the @authtoken query parameter (they end up in access logs; off by default).",
    ),
    "default_batch_size": ("integer", "1000", "Rows per write batch when a job does not set BatchSize."),
    "max_wait_seconds": (
        "integer",
        "3600",
        "Upper bound for WaitForResults/Timeout on executeJob and executeQuery, in seconds.",
    ),
    "strict_mode": (
        "boolean",
        "False",
        "Re-raise errors while generating job DAGs instead of logging and skipping the broken job.",
    ),
    "default_parallelism": (
        "integer",
        "1",
        "How many query tasks of one job run at once; 1 keeps CData's sequential order.",
    ),
    "max_body_bytes": ("integer", "1048576", "Largest request body the API accepts (413 above it)."),
    "max_queries_per_job": (
        "integer",
        "500",
        "Most queries (Query#N, one Airflow task each) a job may have; more are refused when it is saved.",
    ),
    "owner": ("string", "airflow_sync", "Owner shown on generated DAGs."),
    "email_from": (
        "string",
        "airflow-sync@localhost",
        "Sender address of job notification e-mails when the SMTP connection sets none.",
    ),
    "smtp_conn_id": ("string", "smtp_default", "SMTP connection used for job notification e-mails."),
    "dag_bundle_name": ("string", "dags-folder", "DAG bundle that holds the airflow_sync shim file."),
    "dag_shim_fileloc": (
        "string",
        "airflow_sync_jobs.py",
        "Path of the shim file relative to its bundle (used for priority parse requests).",
    ),
    "python_event_allowlist": (
        "string",
        "",
        "Callables PreJob/PostJob 'python:' events may run, as comma-separated module:function patterns "
        "(shell-style, e.g. mycompany.sync_hooks:*). Empty (the default) refuses every python: event. Only "
        "the admin role may set a python: event.",
    ),
    "max_event_chain_depth": (
        "integer",
        "3",
        "How many jobs a chain of executeJob events may start one after the other (A starts B starts C is "
        "2); a longer chain fails the event that would extend it.",
    ),
    "cancel_poll_seconds": (
        "float",
        "1.0",
        "How often a running query task looks for a cancelJob request (the supervisor's heartbeat would "
        "notice it only after up to 5 s).",
    ),
    "cancel_commit_wait_seconds": (
        "integer",
        "30",
        "How long cancelJob waits for a COMMIT that was already being sent when the cancel arrived, so its "
        "answer says whether that load committed.",
    ),
}


def config_section() -> dict[str, Any]:
    """The section in the shape of the provider-info ``config`` key."""
    return {
        SECTION: {
            "description": "Settings of the airflow_sync provider (replication jobs and the /api.rsc API).",
            "options": {
                name: {
                    "description": desc,
                    "version_added": "0.1.0",
                    "type": typ,
                    "example": None,
                    "default": default,
                }
                for name, (typ, default, desc) in OPTIONS.items()
            },
        }
    }


def _raw(name: str) -> str:
    _, default, _ = OPTIONS[name]
    try:
        from airflow.configuration import conf

        value = conf.get(SECTION, name, fallback=default)
    except Exception:  # config not importable (engine-only use) -> documented default
        value = default
    return default if value is None else str(value)


def get_str(name: str) -> str:
    return _raw(name)


def get_int(name: str) -> int:
    return int(_raw(name))


def get_bool(name: str) -> bool:
    return _raw(name).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """A snapshot of the section (read on demand; cheap)."""

    dag_id_prefix: str
    api_enabled: bool
    allow_authtoken_in_url: bool
    default_batch_size: int
    max_wait_seconds: int
    strict_mode: bool
    default_parallelism: int
    max_body_bytes: int
    max_queries_per_job: int
    owner: str
    email_from: str
    smtp_conn_id: str
    dag_bundle_name: str
    dag_shim_fileloc: str
    python_event_allowlist: str = ""
    max_event_chain_depth: int = 3
    cancel_poll_seconds: float = 1.0
    cancel_commit_wait_seconds: int = 30


def load() -> Settings:
    """Read the whole section (config first, then documented defaults)."""
    return Settings(
        dag_id_prefix=get_str("dag_id_prefix"),
        api_enabled=get_bool("api_enabled"),
        allow_authtoken_in_url=get_bool("allow_authtoken_in_url"),
        default_batch_size=get_int("default_batch_size"),
        max_wait_seconds=get_int("max_wait_seconds"),
        strict_mode=get_bool("strict_mode"),
        default_parallelism=get_int("default_parallelism"),
        max_body_bytes=get_int("max_body_bytes"),
        max_queries_per_job=get_int("max_queries_per_job"),
        owner=get_str("owner"),
        email_from=get_str("email_from"),
        smtp_conn_id=get_str("smtp_conn_id"),
        dag_bundle_name=get_str("dag_bundle_name"),
        dag_shim_fileloc=get_str("dag_shim_fileloc"),
        python_event_allowlist=get_str("python_event_allowlist"),
        max_event_chain_depth=get_int("max_event_chain_depth"),
        cancel_poll_seconds=float(get_str("cancel_poll_seconds")),
        cancel_commit_wait_seconds=get_int("cancel_commit_wait_seconds"),
    )

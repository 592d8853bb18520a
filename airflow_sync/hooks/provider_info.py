"""Provider metadata of the client side (``cdata_sync`` connections, operator, sensor, triggers).

Pure data, no imports of the hooks: ``get_provider_info()`` merges :func:`client_provider_info` into the
package's provider info, and Airflow 3.2+ builds the connection form from it (``conn-fields``,
``ui-field-behaviour``) without importing the hook.
"""

from __future__ import annotations

from typing import Any

INTEGRATION = "CData Sync Job API"

#: the connection form: what each standard field means for a Sync server
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": [],
    "relabeling": {
        "host": "Host or base URL",
        "schema": "Scheme (http or https)",
        "login": "User (Basic auth only)",
        "password": "API token",
    },
    "placeholders": {
        "host": "sync.example.com or https://sync.example.com:8181/api.rsc",
        "schema": "http",
        "port": "8181",
        "login": "any user name (auth mode basic)",
        "password": "token issued by the Sync server",
    },
}

#: extra fields of the connection form (stored in the connection's extra)
CONN_FIELDS: dict[str, Any] = {
    "api_path": {
        "label": "API path",
        "description": "Path of the Job API below the host (default /api.rsc); ignored when Host is a URL "
        "with a path.",
        "schema": {"type": ["string", "null"], "default": "/api.rsc"},
    },
    "auth_mode": {
        "label": "Token sent as",
        "description": "header: x-cdata-authtoken (default); basic: HTTP Basic auth, token as password.",
        "schema": {"type": ["string", "null"], "enum": ["header", "basic", None], "default": "header"},
    },
    "timeout": {
        "label": "Request timeout (s)",
        "description": "Seconds per request (default 60).",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "retries": {
        "label": "Retries",
        "description": "Attempts after the first on 5xx, 429 and connection errors (default 3); 4xx never.",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "retry_delay": {
        "label": "Retry delay (s)",
        "description": "Seconds before the first retry, doubled after each attempt (default 1).",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
}


def client_provider_info() -> dict[str, Any]:
    """The keys to merge into ``airflow_sync.get_provider_info()``."""
    return {
        "integrations": [{"integration-name": INTEGRATION, "tags": ["service"]}],
        "connection-types": [
            {
                "connection-type": "cdata_sync",
                "hook-class-name": "airflow_sync.hooks.sync_api.SyncApiHook",
                "hook-name": "CData Sync Job API",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_sync.hooks.sync_api", "airflow_sync.hooks.sync_api_async"],
            }
        ],
        "operators": [_modules("airflow_sync.operators.sync_job")],
        "sensors": [_modules("airflow_sync.sensors.sync_job")],
        "triggers": [_modules("airflow_sync.triggers.sync_job")],
    }


def _modules(*names: str) -> dict[str, Any]:
    return {"integration-name": INTEGRATION, "python-modules": list(names)}

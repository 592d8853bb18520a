"""Test environment shared by every test level.

Airflow reads its configuration at import time, so the environment is set here, before anything imports
``airflow``: a throw-away AIRFLOW_HOME per pytest process, the project's ``dags/`` folder (the shim), no
examples, SQLite metadata DB by default (``AIRFLOW_SYNC_TEST_METADATA_URL`` overrides it, e.g. with a
PostgreSQL URL) and strict factory mode.

Services (PostgreSQL, MariaDB) are real. A test that needs one asks for the ``pg_url`` / ``mysql_url``
fixture, which creates a fresh database for this test session. When the service is unreachable the test is
skipped — unless ``AIRFLOW_SYNC_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOME = tempfile.mkdtemp(prefix="airflow_sync_test_home_")
RUN_ID = uuid.uuid4().hex[:8]

os.environ.update(
    {
        "AIRFLOW_HOME": HOME,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(pathlib.Path(HOME) / "plugins"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer,user:user,op:op",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": f"{HOME}/passwords.json",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": os.environ.get(
            "AIRFLOW_SYNC_TEST_METADATA_URL", f"sqlite:///{HOME}/airflow.db"
        ),
        "AIRFLOW__AIRFLOW_SYNC__STRICT_MODE": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": f"{HOME}/logs",
    }
)
pathlib.Path(HOME, "plugins").mkdir(exist_ok=True)
pathlib.Path(HOME, "passwords.json").write_text(
    '{"admin": "adminpw", "viewer": "viewerpw", "user": "userpw", "op": "oppw"}'
)

import pytest  # noqa: E402

from tests import services  # noqa: E402


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        if f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def airflow_home() -> str:
    return HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home):
    """A fresh, migrated Airflow metadata DB for this pytest process (≈1.5 s on SQLite)."""
    from airflow.utils import db

    db.resetdb()
    yield airflow_home


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of a fresh PostgreSQL database for this session (dropped at the end)."""
    url = services.create_pg_database(f"as_test_{RUN_ID}")
    yield url
    services.drop_pg_database(f"as_test_{RUN_ID}")


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """SQLAlchemy URL of a fresh MariaDB/MySQL database for this session (dropped at the end)."""
    url = services.create_mysql_database(f"as_test_{RUN_ID}")
    yield url
    services.drop_mysql_database(f"as_test_{RUN_ID}")


@pytest.fixture(autouse=True)
def _live_in_process_execution_api():
    """``dag.test()`` talks to Airflow's in-process execution API through one cached event-loop thread
    (``in_process_api_server().transport``). Once in a full-suite CI run that thread was gone before a
    ``dag.test()``, whose first request then waited forever; not reproduced in isolation. A stopped loop is
    replaced by a fresh one here, with a warning so the suite's output shows it happened."""
    import sys
    import warnings

    supervisor = sys.modules.get("airflow.sdk.execution_time.supervisor")
    server = getattr(supervisor, "in_process_api_server", None)
    if server is not None and server.cache_info().currsize:
        transport = server().transport
        loop = getattr(getattr(transport, "app", None), "loop", None)
        if loop is not None and not loop.is_running():
            warnings.warn(
                "Airflow's in-process execution API loop had stopped; starting a new one", stacklevel=1
            )
            server.cache_clear()
    yield

from __future__ import annotations

import pytest

from tests.integration.engine.backends import Backend, MySQLBackend, PostgresBackend, SQLiteBackend


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory) -> Backend:
    return SQLiteBackend(str(tmp_path_factory.mktemp("engine") / "engine.db"))


@pytest.fixture(scope="session")
def pg_backend(pg_url) -> Backend:
    return PostgresBackend(pg_url)


@pytest.fixture(scope="session")
def mysql_backend(mysql_url) -> Backend:
    return MySQLBackend(mysql_url)


@pytest.fixture
def backend(request) -> Backend:
    """Indirect: ``backend`` parametrized with "sqlite" / "postgresql" / "mysql"."""
    return request.getfixturevalue(
        {"sqlite": "sqlite_backend", "postgresql": "pg_backend", "mysql": "mysql_backend"}[request.param]
    )


def get_backend(request, name: str) -> Backend:
    return request.getfixturevalue(
        {"sqlite": "sqlite_backend", "postgresql": "pg_backend", "mysql": "mysql_backend"}[name]
    )

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from airflow_sync.engine.cancel import CancelToken
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


def cancel_at(items: Iterable[Any], token: CancelToken, seen: list[int], at: int = 2) -> Iterator[Any]:
    """``items``, counted into ``seen``; ``token`` is cancelled from another thread (as ``on_kill`` does)
    when item ``at`` arrives, before it is handed on."""
    for item in items:
        seen.append(1)
        if len(seen) == at:
            t = threading.Thread(target=token.cancel)
            t.start()
            t.join()
        yield item

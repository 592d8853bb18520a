"""Fixtures shared by the e2e modules: one Celery cluster per test run for every module that asks for it.

A fixture defined in a test module and imported into another one is a second fixture (pytest keys fixtures
by where they are defined): two clusters would run at once. Defined here, ``cluster`` is started once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests import services
from tests.e2e.cluster_data import DST_DB, META_DB, SOURCE_DDL, SRC_DB
from tests.e2e.cluster_support import Cluster, start_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A whole cluster with its own metadata DB, state dir and ports; always stopped, databases dropped."""
    pytest.importorskip("airflow.providers.celery", reason="the Celery provider is not installed")
    redis = urlsplit(os.environ.get("AIRFLOW_SYNC_REDIS", "redis://127.0.0.1:6379/5"))
    if not services._reachable(redis.hostname or "127.0.0.1", redis.port or 6379):
        services.unavailable(f"Redis at {redis.hostname}:{redis.port} (the Celery broker)")
    services.create_pg_database(SRC_DB)
    services.create_pg_database(DST_DB)
    import psycopg

    with psycopg.connect(
        host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER, dbname=SRC_DB, autocommit=True
    ) as conn:
        for stmt in SOURCE_DDL:
            conn.execute(stmt)
    pg = f"postgresql://{services.PG_USER}@{services.PG_HOST}:{services.PG_PORT}"
    t0 = time.monotonic()
    c = start_cluster(
        tmp_path_factory.mktemp("cluster"),
        db=META_DB,
        api_servers=2,
        heartbeat_timeout=20,
        # connections through the secrets chain: every component and task process sees them
        extra_env={"AIRFLOW_CONN_CL_SRC": f"{pg}/{SRC_DB}", "AIRFLOW_CONN_CL_DST": f"{pg}/{DST_DB}"},
    )
    print(f"cluster started in {time.monotonic() - t0:.0f}s")
    try:
        yield c
    finally:
        c.stop()
        services.drop_pg_database(SRC_DB)
        services.drop_pg_database(DST_DB)

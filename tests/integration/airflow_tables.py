"""A throw-away database with Airflow's metadata tables (created from its models, no migrations: ~2 s), for
tests that query Airflow's tables directly on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests import services


@contextlib.contextmanager
def airflow_tables_db(kind: str, name: str, folder: Path) -> Iterator[Any]:
    """A SQLAlchemy engine on a fresh ``sqlite`` file in ``folder`` or ``postgresql`` database ``name``; the
    database is dropped afterwards, also when the caller's setup fails."""
    from airflow.models import import_all_models
    from airflow.models.base import Base
    from sqlalchemy import create_engine

    if kind == "sqlite":
        engine = create_engine(f"sqlite:///{folder}/meta.db")
    else:
        engine = create_engine(services.create_pg_database(name))
    try:
        import_all_models()
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        if kind == "postgresql":
            services.drop_pg_database(name)

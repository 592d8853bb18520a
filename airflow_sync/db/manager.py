"""The provider db-manager: creates and migrates airflow_sync's own tables with ``airflow db migrate``.

Registered under ``db-managers`` in :func:`airflow_sync.get_provider_info`, so Airflow's ``RunDBManager``
runs it in ``airflow db migrate`` / ``resetdb``: the first run creates the tables from the ORM and stamps the
head revision, later runs apply the Alembic migrations in ``migrations/versions``. The Alembic version is
kept in its own table, ``alembic_version_airflow_sync``.
"""

from __future__ import annotations

from pathlib import Path

from airflow.utils.db_manager import BaseDBManager

from airflow_sync.db.models import metadata

_HERE = Path(__file__).parent


class AirflowSyncDBManager(BaseDBManager):
    """Manages the ``airflow_sync_*`` tables."""

    metadata = metadata
    version_table_name = "alembic_version_airflow_sync"
    migration_dir = (_HERE / "migrations").as_posix()
    alembic_file = (_HERE / "alembic.ini").as_posix()
    supports_table_dropping = True
    revision_heads_map = {"0.1.0": "c3d8e1f4a9b6"}

    def downgrade(
        self, to_revision: str, from_revision: str | None = None, show_sql_only: bool = False
    ) -> None:
        """Downgrade airflow_sync's tables to ``to_revision`` (online only).

        :param to_revision: target revision (``base`` drops everything)
        :param from_revision: unsupported; offline SQL generation is not offered
        :param show_sql_only: unsupported
        """
        if from_revision or show_sql_only:
            raise ValueError("airflow_sync migrations support online downgrades only.")
        from alembic import command

        command.downgrade(self.get_alembic_config(), revision=to_revision)

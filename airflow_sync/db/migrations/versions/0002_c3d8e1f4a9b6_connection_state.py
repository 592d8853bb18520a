"""Connection test state table.

Revision ID: c3d8e1f4a9b6
Revises: a5c1f0e2b7d3
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from airflow.utils.sqlalchemy import UtcDateTime
from alembic import op

revision = "c3d8e1f4a9b6"
down_revision = "a5c1f0e2b7d3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airflow_sync_connection_state",
        sa.Column("conn_id", sa.String(250), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_tested", UtcDateTime(), nullable=False),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.Column("server_version", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("conn_id", name="pk_airflow_sync_connection_state"),
    )


def downgrade() -> None:
    op.drop_table("airflow_sync_connection_state")

"""Tables owned by airflow_sync (design D14), on their own SQLAlchemy metadata.

They live in Airflow's metadata database but are created and migrated by
:class:`airflow_sync.db.manager.AirflowSyncDBManager` (``airflow db migrate``), never at import time.
"""

from __future__ import annotations

from datetime import datetime

from airflow.utils.sqlalchemy import UtcDateTime
from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: naming convention so constraint names are stable across dialects (and migrations can refer to them)
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    """Declarative base bound to airflow_sync's own metadata (not Airflow's)."""

    metadata = metadata


class ApiToken(Base):
    """A CData-style API token: only the SHA-256 of the secret is stored (ADR 0001).

    :ivar name: unique label chosen by the admin (``ci-loader``)
    :ivar role: one of :data:`airflow_sync.api.tokens.ROLES`
    :ivar token_prefix: the first 8 characters of the secret, to recognise a token in listings
    :ivar token_hash: hex SHA-256 of the whole secret; looked up by index, compared in constant time
    """

    __tablename__ = "airflow_sync_api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    token_prefix: Mapped[str] = mapped_column(String(8), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(250), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConnectionState(Base):
    """The outcome of the last ``testConnection`` of an Airflow connection (CData's ``ConnectionState``).

    Kept here, not in the connection's ``extra``: testing must not rewrite a connection (nor need write
    access to it), and connections from environment variables or secrets backends have no row to write.
    The row is removed when the connection is deleted through the API and reset when it is modified.

    :ivar conn_id: the Airflow connection id
    :ivar state: ``Tested`` or ``Failed``
    :ivar last_tested: when the test ran
    :ivar message: what the test found (server version, or the masked error), at most 1000 characters
    """

    __tablename__ = "airflow_sync_connection_state"

    conn_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    last_tested: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    server_version: Mapped[str | None] = mapped_column(String(200), nullable=True)

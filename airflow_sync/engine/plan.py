"""What the engine is asked to do for one query, fully resolved, and what it reports back.

The Airflow side builds a :class:`ReplicationPlan` from a Job and one parsed ``REPLICATE`` statement
(job fields, ``OtherCacheOptions`` and the statement's ``WITH`` options merged once, in
:func:`airflow_sync.jobs.options.build_plan`); the engine never looks at a Job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from airflow_sync.statement import ColumnDef, SelectClause, TableRef

IntervalUnit = Literal["minutes", "hours", "days", "weeks", "months", "years"]


@dataclass(frozen=True)
class ReplicationPlan:
    """One query of one job, with every option resolved.

    :param job_name: the job (state-table key part)
    :param query_id: stable id of the query within the job (the Airflow task id; state-table key part)
    :param source: source table
    :param destination: destination table name (TableNamePrefix already applied when it applies)
    :param destination_schema: destination schema / MySQL database (CacheSchema), None = default
    :param select: the user SELECT (columns, expressions, WHERE), None = all columns of ``source``
    :param columns: explicit destination column definitions from the statement
    :param primary_key: explicit key (statement ``PRIMARY KEY`` or option ``PrimaryKey``), else reflected
    """

    job_name: str
    query_id: str
    source: TableRef
    destination: str
    destination_schema: str | None = None
    select: SelectClause | None = None
    columns: tuple[ColumnDef, ...] = ()
    primary_key: tuple[str, ...] = ()
    drop_table: bool = False
    truncate_table: bool = False
    alter_schema: bool = True
    auto_truncate_strings: bool = False
    skip_deleted: bool = False
    delete_detection: Literal["none", "keys"] = "none"
    batch_size: int = 1000
    command_timeout: int = 0
    use_gmt: bool = False
    replicate_start_date: datetime | None = None
    replicate_interval: int | None = None
    replicate_interval_unit: IntervalUnit = "days"
    incremental_check_columns: tuple[str, ...] = ()
    max_lastmod_offset: int = 300
    min_lastmod_offset: int = 0
    verbosity: int = 2
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ReplicationSummary:
    """What one query did. Counts and timings only — never row values."""

    job_name: str
    query_id: str
    source: str
    destination: str
    mode: Literal["full", "incremental"] = "full"
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    strings_truncated: int = 0
    batches: int = 0
    windows: int = 0
    seconds: float = 0.0
    watermark_before: str | None = None
    watermark_after: str | None = None
    columns_added: list[str] = field(default_factory=list)
    table_created: bool = False

    @property
    def records_affected(self) -> int:
        return self.rows_inserted + self.rows_updated + self.rows_deleted

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the task's XCom return value)."""
        d = asdict(self)
        d["records_affected"] = self.records_affected
        return d

"""The demo replication job (CData wire shape), written to ``.demo/demo_job.json`` and applied like any
job file with ``airflow-sync jobs apply``."""

from __future__ import annotations

from typing import Any

from airflow_sync.demo.data import RECENT_SINCE

JOB_NAME = "demo_shop"
SOURCE_CONN = "demo_source"
WAREHOUSE_CONN = "demo_warehouse"
TABLE_PREFIX = "shop_"


def demo_job() -> dict[str, Any]:
    """Three queries: two whole tables (implicit names, so ``TableNamePrefix`` applies; Customers has an
    ``updated_at`` column, so it is replicated incrementally) and a filtered SELECT into an explicitly named
    table that is emptied before each load (``WITH TruncateTable=true``)."""
    return {
        "JobName": JOB_NAME,
        "Source": SOURCE_CONN,
        "Destination": WAREHOUSE_CONN,
        "Scheduled": "False",
        "TableNamePrefix": TABLE_PREFIX,
        "BatchSize": "500",
        "Query#1": "REPLICATE [Customers]",
        "Query#2": "REPLICATE [Products]",
        "Query#3": (
            "REPLICATE [orders_recent] WITH TruncateTable=true "
            "SELECT [OrderId], [CustomerId], [ProductId], [Quantity], [Amount], [OrderDate] FROM [Orders] "
            f"WHERE [OrderDate] >= '{RECENT_SINCE}' AND [Status] <> 'cancelled'"
        ),
    }


def expected_counts(source_counts: dict[str, int]) -> dict[str, int]:
    """Rows each destination table must hold after a successful run.

    :param source_counts: what :func:`airflow_sync.demo.data.create_source_db` returned
    """
    return {
        f"{TABLE_PREFIX}Customers": source_counts["Customers"],
        f"{TABLE_PREFIX}Products": source_counts["Products"],
        "orders_recent": source_counts["orders_recent"],
    }

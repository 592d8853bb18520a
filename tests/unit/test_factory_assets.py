"""The Asset each REPLICATE task declares for its destination table (built without a metadata DB)."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")


def make_job(*queries, **fields):
    from airflow_sync.jobs.model import Job

    body = {"JobName": "asset_job", "Source": "src_db", "Destination": "warehouse", **fields}
    body.update({f"Query#{i}": q for i, q in enumerate(queries, start=1)})
    return Job.from_wire(body)


def outlet_uris(job) -> dict[str, list[str]]:
    from airflow_sync import settings
    from airflow_sync.dags.factory import build_dag

    dag = build_dag(job, cfg=settings.load())
    return {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks}


def test_implicit_names_get_the_table_name_prefix_and_the_default_schema():
    job = make_job("REPLICATE [Orders]", TableNamePrefix="stg_")
    (q,) = job.query_task_ids()
    assert outlet_uris(job) == {
        "pre_job": [],
        q: ["airflow_sync://warehouse/default/stg_Orders"],
        "post_job": [],
        "finish": [],
    }


def test_cache_schema_names_the_schema():
    job = make_job("REPLICATE [crm_Accounts]", CacheSchema="public")
    (q,) = job.query_task_ids()
    assert outlet_uris(job)[q] == ["airflow_sync://warehouse/public/crm_Accounts"]


def test_an_explicit_select_destination_keeps_its_name_and_its_own_schema():
    job = make_job(
        "REPLICATE [rpt].[BigLines] SELECT id FROM [Lines] WHERE qty > 3",
        "REPLICATE [Totals] SELECT id FROM [Orders]",
        TableNamePrefix="stg_",
        CacheSchema="mart",
    )
    q_big, q_totals = job.query_task_ids()
    uris = outlet_uris(job)
    assert uris[q_big] == ["airflow_sync://warehouse/rpt/BigLines"]  # statement schema wins, no prefix
    assert uris[q_totals] == ["airflow_sync://warehouse/mart/Totals"]  # CacheSchema, still no prefix


def test_with_options_resolve_like_the_engine_resolves_them():
    from airflow_sync.dags.assets import destination_uri, table_uri
    from airflow_sync.jobs.options import build_plan

    job = make_job(
        "REPLICATE [Orders] WITH TableNamePrefix='raw_', CacheSchema='landing'",
        OtherCacheOptions="TableNamePrefix=x_",
    )
    (q,) = job.query_task_ids()
    plan = build_plan(job, job.statements[0], q)
    assert (plan.destination_schema, plan.destination) == ("landing", "raw_Orders")
    assert destination_uri(job, job.statements[0], q) == "airflow_sync://warehouse/landing/raw_Orders"
    assert outlet_uris(job)[q] == [table_uri("warehouse", "landing", "raw_Orders")]


def test_odd_characters_are_percent_encoded_so_the_parts_stay_apart():
    job = make_job("REPLICATE [Order Lines/2024] SELECT id FROM [Lines]", CacheSchema="Ventes é")
    (q,) = job.query_task_ids()
    (uri,) = outlet_uris(job)[q]
    assert uri == "airflow_sync://warehouse/Ventes%20%C3%A9/Order%20Lines%2F2024"
    assert uri.isascii()


def test_the_asset_name_is_its_uri_and_airflow_keeps_it_verbatim_without_warnings():
    from airflow.sdk import Asset

    from airflow_sync.dags.assets import query_assets

    job = make_job("REPLICATE [crm_Accounts]", CacheSchema="public")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (asset,) = query_assets(job).values()
    # the consumer example's spelling is the same asset
    assert asset == Asset("airflow_sync://warehouse/public/crm_Accounts")
    assert asset.name == asset.uri == "airflow_sync://warehouse/public/crm_Accounts"


def test_outlets_survive_dag_serialization():
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_sync.dags.factory import build_dag

    job = make_job("REPLICATE [Orders]", "REPLICATE [Lines]", TableNamePrefix="s_")
    dag = DagSerialization.from_dict(DagSerialization.to_dict(build_dag(job)))
    for task_id, table in zip(job.query_task_ids(), ("s_Orders", "s_Lines"), strict=True):
        assert [a.uri for a in dag.get_task(task_id).outlets] == [f"airflow_sync://warehouse/default/{table}"]

"""The Trigger form (DAG params) of generated job DAGs, built without a metadata DB."""

from __future__ import annotations

import pytest

pytest.importorskip("airflow_sync.jobs.model", reason="the Job model has not landed yet")


def make_job(*queries):
    from airflow_sync.jobs.model import Job

    body = {"JobName": "form_job", "Source": "src_db", "Destination": "dst_db"}
    body.update({f"Query#{i}": q for i, q in enumerate(queries, start=1)})
    return Job.from_wire(body)


def serialized_params(job):
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_sync.dags.factory import build_dag

    return DagSerialization.from_dict(DagSerialization.to_dict(build_dag(job))).params


def test_the_form_offers_every_query_and_defaults_to_none_picked():
    long_query = "REPLICATE [Lines] SELECT " + ", ".join(f"col{i}" for i in range(40)) + " FROM [L]"
    job = make_job("REPLICATE [Orders]", long_query)
    ids = list(job.query_task_ids())
    param = serialized_params(job).get_param("queries")
    assert param.value == []
    assert param.schema["type"] == "array" and param.schema["items"] == {"type": "string", "enum": ids}
    assert param.schema["examples"] == ids  # the UI's multi-select pick list
    labels = param.schema["values_display"]
    assert labels[ids[0]] == "1. REPLICATE [Orders]"
    assert labels[ids[1]].startswith("2. REPLICATE [Lines] SELECT col0") and labels[ids[1]].endswith("…")
    assert len(labels[ids[1]]) == len("2. ") + 90  # shortened; the whole query is in the DAG docs


def test_conf_is_validated_against_the_task_ids_and_extra_keys_pass():
    from airflow.exceptions import ParamValidationError

    job = make_job("REPLICATE [Orders]", "REPLICATE [Lines]")
    params = serialized_params(job)
    ok = {"job_version": job.version, "job_id": job.job_id, "queries": [job.query_task_ids()[1]]}
    assert params.deep_merge(ok).validate()["queries"] == [job.query_task_ids()[1]]
    with pytest.raises(ParamValidationError, match="queries"):
        params.deep_merge({"queries": ["replicate_other"]}).validate()
    with pytest.raises(ParamValidationError, match="queries"):
        params.deep_merge({"queries": "replicate_orders"}).validate()  # a string, not a list


def test_a_job_without_queries_still_has_a_valid_form():
    param = serialized_params(make_job()).get_param("queries")
    assert param.schema["items"] == {"type": "string"} and "examples" not in param.schema

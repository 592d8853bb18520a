"""TaskIds of a job's queries: assigned once, stored with the job, kept across edits."""

from __future__ import annotations

import pytest

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.model import Job

BODY = {
    "JobName": "j",
    "Source": "s",
    "Destination": "d",
    "Query#1": "REPLICATE [a]",
    "Query#2": "REPLICATE [b]",
}


def test_a_new_job_gets_distinct_large_ids_kept_by_the_store():
    job = Job.from_wire(BODY)
    assert len(job.task_ids) == 2 and len(set(job.task_ids)) == 2
    assert all(t.isdigit() and len(t) == 19 and int(t) > 2**53 for t in job.task_ids)
    again = Job.from_store(job.to_store())
    assert again.task_ids == job.task_ids
    assert Job.from_wire(BODY).task_ids != job.task_ids  # server-assigned, not derived from the text


def test_ids_are_not_content():
    job = Job.from_wire(BODY)
    other = job.with_tasks(
        [("1000000000000000001", "REPLICATE [a]"), ("1000000000000000002", "REPLICATE [b]")]
    )
    assert other.version == job.version and other == job and other.task_ids != job.task_ids


def test_records_without_ids_read_the_same_every_time():
    record = Job.from_wire(BODY).to_store()
    del record["task_ids"]
    first, second = Job.from_store(record), Job.from_store(record)
    assert first.task_ids == second.task_ids and len(set(first.task_ids)) == 2
    assert Job.from_store(first.to_store()).task_ids == first.task_ids  # saved once, kept
    record["task_ids"] = ["1", "1"]  # damaged: duplicates are not ids
    assert Job.from_store(record).task_ids == first.task_ids


def test_replacing_the_query_list_keeps_the_ids_of_the_queries_still_there():
    job = Job.from_wire(BODY)
    a, b = job.task_ids
    patched = job.patched(
        {"Query#1": "replicate   [b];", "Query#2": "REPLICATE [c]", "Query#3": "REPLICATE [a]"}
    )
    assert patched.task_ids[0] == b and patched.task_ids[2] == a
    assert patched.task_ids[1] not in (a, b)
    assert job.patched({"Verbosity": "3"}).task_ids == job.task_ids  # queries untouched


def test_with_tasks_validates_like_a_put():
    job = Job.from_wire(BODY)
    with pytest.raises(JobValidationError) as info:
        job.with_tasks([(job.task_ids[0], "REPLICATE [a]"), ("1000000000000000009", "REPLICATE nonsense (")])
    assert info.value.field == "Query#2"
    empty = job.with_tasks([])
    assert empty.queries == () and empty.task_ids == ()

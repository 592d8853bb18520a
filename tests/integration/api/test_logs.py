"""getLogs: one row per task attempt, Content = base64 of the attempt's log read by Airflow's TaskLogReader.

``dag.test()`` runs tasks in-process and writes no task log files, so after a real run this test puts
each attempt's log where Airflow's file handler looks for it, in the JSON-lines form the task supervisor
writes; the live end-to-end test reads logs written by real workers.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.integration.api.jobs_support import (
    API,
    create_job,
    ensure_connections,
    run_dag_test,
    unb64,
    unique,
)


@pytest.fixture(scope="module", autouse=True)
def _conns(airflow_home):
    ensure_connections(airflow_home)


@pytest.fixture
def admin(jwt_headers):
    return jwt_headers("admin")


def _write_logs(dag_id: str, run_id: str) -> dict[str, list[str]]:
    """Write each attempt's log file as the supervisor does; returns task id -> events written."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.log.log_reader import TaskLogReader
    from airflow.utils.session import create_session
    from sqlalchemy import select

    handler = TaskLogReader().log_handler
    written = {}
    with create_session() as s:
        tis = s.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        for ti in tis:
            if ti.try_number < 1:
                continue
            path = pathlib.Path(handler.local_base, handler._render_filename(ti, ti.try_number))
            path.parent.mkdir(parents=True, exist_ok=True)
            events = [f"{ti.task_id} starting", f"{ti.task_id}: 5 rows read, 5 inserted"]
            lines = [
                json.dumps(
                    {
                        "timestamp": f"2026-01-01T00:00:0{i}.000000Z",
                        "level": "info",
                        "event": e,
                        "logger": "t",
                    }
                )
                for i, e in enumerate(events)
            ]
            path.write_text("\n".join(lines) + "\n")
            written[ti.task_id] = events
    return written


def test_get_logs_rows_decode_to_the_task_log_text(api_client, admin, token_headers):
    name = unique("logs")
    job = create_job(api_client, admin, name, "REPLICATE [orders]", "REPLICATE [customers]")
    run = run_dag_test(name)
    written = _write_logs(job["DagId"], run.run_id)
    r = api_client.post(
        f"{API}/getLogs", json={"JobName": name, "Days": "1"}, headers=token_headers("viewer")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"].endswith("Collection(CData.getLogsOutput)")
    rows = body["value"]
    assert [(row["TaskId"], row["Query"]) for row in rows] == [
        ("pre_job", None),
        ("replicate_orders", "REPLICATE [orders]"),
        ("replicate_customers", "REPLICATE [customers]"),
        ("post_job", None),
    ]
    for row in rows:
        assert row["RunId"] == run.run_id and row["Try"] == "1" and row["JobName"] == name
        assert row["LogFile"].endswith(f"task_id={row['TaskId']}/attempt=1.log")
        text = unb64(row["Content"])
        assert text.splitlines() == [
            f"[2026-01-01T00:00:0{i}+00:00] INFO - {event}" for i, event in enumerate(written[row["TaskId"]])
        ]


def test_get_logs_aliases_form_body_and_days_validation(api_client, admin):
    name = unique("logs2")
    create_job(api_client, admin, name, sync=False)
    for path in ("getLogs", "getlogs", "getJobLog", "GETLOGS"):
        r = api_client.post(f"{API}/{path}", data={"JobName": name, "Days": "3"}, headers=admin)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["value"] == []
    for days in ("0", "-1", "abc", 1.5):
        r = api_client.post(f"{API}/getLogs", json={"JobName": name, "Days": days}, headers=admin)
        assert r.status_code == 400, (days, r.text)
        assert "Days" in r.json()["error"]["message"]
    r = api_client.post(f"{API}/getLogs", json={"JobName": f"no_{name}"}, headers=admin)
    assert r.status_code == 404
    r = api_client.post(f"{API}/getLogs", json={"JobName": name})
    assert r.status_code == 401

"""PreJob/PostJob code that fails says so, and whether another attempt may help (issue #14)."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_sync.dags.event_runner import EventFailed, run_event
from airflow_sync.jobs.events import HttpEvent, PythonEvent
from airflow_sync.jobs.model import Job

JOB = Job.from_wire({"JobName": "ev", "Source": "s", "Destination": "d"})


def test_a_webhook_that_is_not_listening_is_retried(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_EV_HOOK", json.dumps(conn))
    with pytest.raises(EventFailed) as info:
        run_event(HttpEvent("POST", "ev_hook", "/done"), job=JOB, summary={})
    assert info.value.retryable and "http: POST /done on connection 'ev_hook' failed" in info.value.message


def test_a_python_module_that_does_not_exist_fails_without_retry(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "no_such_pkg_xyz.*:*")
    with pytest.raises(EventFailed) as info:
        run_event(PythonEvent("no_such_pkg_xyz.hooks", "go"), job=JOB, summary={})
    assert not info.value.retryable and "cannot import no_such_pkg_xyz.hooks" in info.value.message


def test_a_python_callable_off_the_allow_list_is_refused_before_import(monkeypatch):
    import sys

    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__PYTHON_EVENT_ALLOWLIST", "mycompany.*:*")
    with pytest.raises(EventFailed, match="python_event_allowlist") as info:
        run_event(PythonEvent("antigravity", "fly"), job=JOB, summary={})
    assert not info.value.retryable and "antigravity" not in sys.modules

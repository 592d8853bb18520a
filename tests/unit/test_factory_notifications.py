"""NotifyWindowsEvent: failed runs go to the host's syslog socket; without one nothing breaks."""

from __future__ import annotations

import socket

from airflow_sync.notifications import QueryOutcome, RunSummary, syslog_failure


def failed_run() -> RunSummary:
    return RunSummary(
        job_name="nightly",
        job_id="00000000-0000-0000-0000-000000000001",
        dag_id="sync__nightly",
        run_id="manual__1",
        status="FAILED",
        pre_job="SUCCESS",
        queries=[
            QueryOutcome("replicate_a", "REPLICATE [a]", "FAILED", error="boom"),
            QueryOutcome("replicate_b", "REPLICATE [b]", "SUCCESS", rows_read=3, records_affected=3),
        ],
    )


def test_failure_is_written_to_the_syslog_socket(tmp_path):
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        assert syslog_failure(failed_run(), address=path) is True
        datagram = server.recv(4096).decode()
    assert datagram.startswith("<11>")  # facility user (1) * 8 + severity error (3)
    assert "job nightly run manual__1 failed (1 of 2 queries failed: replicate_a)" in datagram


def test_no_syslog_socket_is_not_an_error(tmp_path):
    assert syslog_failure(failed_run(), address=str(tmp_path / "missing.sock")) is False


def test_no_syslog_socket_is_said_once_in_the_task_log(tmp_path, caplog, monkeypatch):
    import logging

    from airflow_sync.jobs.model import Job
    from airflow_sync.notifications import send_notifications

    job = Job.from_wire(
        {"JobName": "nightly", "Source": "a", "Destination": "b", "NotifyWindowsEvent": "True"}
    )
    logger = logging.getLogger("airflow_sync.run.nightly.notify")
    caplog.set_level(logging.WARNING, logger=logger.name)
    import airflow_sync.notifications as notifications

    monkeypatch.setattr(notifications, "SYSLOG_SOCKET", str(tmp_path / "missing.sock"))
    done, error = send_notifications(job, failed_run(), logger=logger)
    assert (done, error) == ([], None)
    warnings = [r for r in caplog.records if r.name == logger.name and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no syslog socket" in warnings[0].getMessage()

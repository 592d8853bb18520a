"""Statement tracing of Verbosity 4 and 5 never shows a value."""

from __future__ import annotations

import logging

from airflow_sync.engine import trace


def test_literals_are_replaced_and_identifiers_kept():
    sql = (
        'SELECT "id", "v2" FROM "s"."t1" WHERE "email" = \'ann@example.com\' AND id >= 42 '
        "AND price < -1.5 AND note = 'it''s'"
    )
    assert trace.redact(sql) == (
        'SELECT "id", "v2" FROM "s"."t1" WHERE "email" = ? AND id >= ? AND price < ? AND note = ?'
    )
    assert len(trace.redact("SELECT " + "x, " * 1000)) == 600


def test_only_a_bound_run_at_verbosity_4_or_more_is_traced(caplog):
    log = logging.getLogger("airflow_sync.run.trace_test")
    caplog.set_level(1, logger=log.name)
    trace.statement("SELECT 1")  # nothing bound
    with trace.bound(log, 3):
        trace.statement("SELECT 2")
    with trace.bound(log, 4):
        trace.statement("SELECT 3", started=0.0, rows=7)
    with trace.bound(log, 5):
        trace.statement("DELETE FROM t WHERE k = 'x'", started=0.0, rows=7)
    (debug, timed) = caplog.records
    assert (debug.levelno, debug.getMessage()) == (logging.DEBUG, "SQL: SELECT ?")
    assert timed.levelno == 5 and timed.getMessage().startswith("SQL (")
    assert timed.getMessage().endswith(" s, 7 rows): DELETE FROM t WHERE k = ?")

"""The replication engine (design D12: no Airflow imports anywhere below this package).

Entry point: :func:`airflow_sync.engine.replicate.run_replication`. Layout, in the order a run uses it:

- ``dialects/`` — one object per backend (SQLite, PostgreSQL, MySQL/MariaDB, generic SQLAlchemy): connecting
  through the raw driver, quoting, reflection into neutral :mod:`~airflow_sync.engine.types`, DDL, value
  conversion, bulk load, merge SQL, statement timeout, cancellation and error classification.
- ``reflect.py`` — the read side of a query: output columns and types, key, check column, SELECT text.
- ``ddl.py`` — destination schema/table creation and AlterSchema.
- ``writer.py`` — per-column value conversion, string length checks and AutoTruncateStrings.
- ``load.py`` — the transaction layout: full (direct or staged merge) and incremental windows, each
  committing data and watermark together; same-engine copies.
- ``state.py`` / ``watermark.py`` — the ``_airflow_sync_state`` table and CData's watermark rule.
- ``cancel.py`` / ``errors.py`` — CancelToken and transient/terminal classification.
"""

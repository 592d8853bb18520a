"""The replication engine (design D12: no Airflow imports anywhere below this package, and nothing from
``airflow_sync.jobs``, ``.api`` or ``.dags``: the plan types live in :mod:`airflow_sync.engine.plan` and the
shared statement model :mod:`airflow_sync.statement`).

Entry point: :func:`airflow_sync.engine.replicate.run_replication`. One run flows one way through stages,
each a module with one job (``tests/unit/engine/test_engine_imports.py`` proves the import graph has no
cycle):

- **plan** — ``prepare.py`` (reflect the source through ``reflect.py``; destination DDL through ``ddl.py``
  and ``state.py``; full or incremental), ``route.py`` (per load: in-engine copy, text pipe or rows);
- **read** — ``read.py``: fetched row batches, or text-pipe blocks read ahead on a helper thread (a small
  incremental window in key ranges read at once, cut by ``split.py``);
- **convert** — ``convert.py``: per-column value conversion, length checks, AutoTruncateStrings;
- **write** — ``write.py`` (the chosen path into the target or a stage), ``merge.py`` (stage → target);
- **commit** — ``commit.py``: watermark row, the commit guards, COMMIT (``watermark.py``: CData's rule).

``full.py`` and ``incremental.py`` lay these out as transactions; ``context.py`` holds what a run's stages
share; ``hooks.py`` the test hooks. ``dialects/`` has one object per backend (SQLite, PostgreSQL,
MySQL/MariaDB, generic SQLAlchemy): connecting, quoting, reflection into neutral ``types.py``, DDL, value
conversion, bulk load, merge SQL, timeouts, cancellation and error classification. ``cancel.py`` /
``errors.py``: CancelToken and transient/terminal classification.
"""

"""Benchmark of airflow_sync's replication engine against its peers (``python -m bench``).

Not a test suite: it creates its own databases and data, runs every contender in a fresh subprocess on the
same data, verifies each result (row count and a per-column checksum) and prints rows/s and peak RSS.
See ``bench/README.md``.
"""

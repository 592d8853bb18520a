"""The databases of the e2e cluster (``tests/e2e/conftest.py``'s ``cluster`` fixture) and their contents.

Source and destination are PostgreSQL databases created for this run. The source holds plain tables and
*slow views* (a ``pg_sleep`` per row) so that a query task runs long enough, deterministically, to be
observed, cancelled, or to lose its worker in the middle.
"""

from __future__ import annotations

from tests.conftest import RUN_ID

ITEMS = 3000  # rows of the source table ``items`` (and of every view over it)
RUN_TIMEOUT = 150  # seconds for one job run on a loaded 2-core machine
SRC_DB, DST_DB, META_DB = (f"as_cl_{kind}_{RUN_ID}" for kind in ("src", "dst", "meta"))

SOURCE_DDL = [
    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), created timestamp)",
    f"INSERT INTO items SELECT g, 'item ' || g, g * 1.25, timestamp '2024-01-01' + g * interval '1 minute' "
    f"FROM generate_series(1, {ITEMS}) g",
    "CREATE TABLE customers (id int PRIMARY KEY, email text, active boolean)",
    "INSERT INTO customers SELECT g, 'c' || g || '@example.com', g % 3 = 0 FROM generate_series(1, 2000) g",
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, amount numeric(12,2), note text)",
    "INSERT INTO orders SELECT g, g % 2000 + 1, (g % 977) * 3.5, CASE WHEN g % 7 = 0 THEN NULL ELSE "
    "'order ' || g END FROM generate_series(1, 5000) g",
    # Slow views: reading every row costs a pg_sleep, so a query task's duration is known in advance.
    "CREATE FUNCTION slow_ok(seconds float8) RETURNS boolean LANGUAGE sql VOLATILE "
    "AS 'SELECT true FROM pg_sleep(seconds)'",
    "CREATE VIEW items_slow AS SELECT * FROM items WHERE slow_ok(0.002)",  # ~8 s
    "CREATE VIEW items_slower AS SELECT * FROM items WHERE slow_ok(0.006)",  # ~20 s
    "CREATE VIEW items_forever AS SELECT * FROM items WHERE slow_ok(0.05)",  # ~150 s
]

"""Connection resolution for jobs: types and SQLAlchemy URLs from real Airflow connections."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def env_conns(airflow_db, monkeypatch, tmp_path):
    conns = {
        "c_sqlite": {"conn_type": "sqlite", "host": str(tmp_path / "x.db")},
        "c_pg": {
            "conn_type": "postgres",
            "host": "db.example",
            "port": 5433,
            "login": "u",
            "password": "p@ss/w:rd",
            "schema": "sales",
            "extra": {"sslmode": "require"},
        },
        "c_my": {"conn_type": "mysql", "host": "m.example", "login": "root", "schema": "shop"},
        # MySqlHook's form of the TLS options: an "ssl" extra, here as JSON text
        "c_my_tls": {
            "conn_type": "mysql",
            "host": "m.example",
            "extra": {"ssl": json.dumps({"ca": "/etc/ca.pem", "cert": "/etc/c.pem", "key": "/etc/k.pem"})},
        },
        "c_my_tls2": {"conn_type": "mysql", "host": "m.example", "extra": {"ssl_ca": "/x/ca.pem"}},
        "c_http": {"conn_type": "http", "host": "example.com"},
        "c_odd": {"conn_type": "nosuchdb", "host": "db.example"},
        "c_duck": {"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")},
    }
    for conn_id, body in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
    return tmp_path


def test_connection_type_and_missing(env_conns):
    from airflow_sync.jobs.connections import connection_type

    assert connection_type("c_sqlite") == "sqlite"
    assert connection_type("c_pg") == "postgres"
    assert connection_type("does_not_exist") is None
    assert connection_type("") is None


def test_urls_per_backend(env_conns):
    from sqlalchemy.engine import make_url

    from airflow_sync.jobs.connections import redacted_url, sqlalchemy_url

    assert sqlalchemy_url("c_sqlite") == f"sqlite:///{env_conns / 'x.db'}"
    pg = make_url(sqlalchemy_url("c_pg"))
    assert (pg.drivername, pg.host, pg.port) == ("postgresql+psycopg", "db.example", 5433)
    assert pg.database == "sales"
    assert pg.password == "p@ss/w:rd" and pg.query == {"sslmode": "require"}
    assert "p@ss" not in redacted_url(sqlalchemy_url("c_pg"))
    my = make_url(sqlalchemy_url("c_my"))
    assert (my.drivername, my.database, my.query["charset"]) == ("mysql+pymysql", "shop", "utf8mb4")
    with pytest.raises(ValueError, match="not a SQL database"):
        sqlalchemy_url("c_http")
    tls = make_url(sqlalchemy_url("c_my_tls")).query
    assert (tls["ssl_ca"], tls["ssl_cert"], tls["ssl_key"]) == ("/etc/ca.pem", "/etc/c.pem", "/etc/k.pem")
    assert make_url(sqlalchemy_url("c_my_tls2")).query["ssl_ca"] == "/x/ca.pem"


def test_a_sqlite_url_opens_the_file(env_conns):
    import sqlalchemy

    from airflow_sync.jobs.connections import sqlalchemy_url

    engine = sqlalchemy.create_engine(sqlalchemy_url("c_sqlite"))
    with engine.begin() as c:
        c.execute(sqlalchemy.text("create table t (a int)"))
    engine.dispose()
    assert (env_conns / "x.db").exists()


def test_a_sql_connection_outside_the_built_in_types_is_generic(env_conns):
    """DuckDB's provider (a third-party DbApiHook whose URL comes from ``get_uri``) is installed for this."""
    pytest.importorskip("duckdb_provider", reason="airflow-provider-duckdb is not installed")
    from airflow_sync.jobs.connections import connection_type, sqlalchemy_url

    assert connection_type("c_duck") == "dbapi:duckdb"
    assert sqlalchemy_url("c_duck") == f"duckdb:///{env_conns / 'w.duckdb'}"


def test_connections_that_are_not_sql_keep_their_type_and_are_refused(env_conns):
    from airflow_sync.jobs.connections import connection_type

    assert connection_type("c_http") == "http"  # HttpHook is not a DbApiHook
    assert connection_type("c_odd") == "nosuchdb"  # no provider knows this type


def make_job(source: str, destination: str):
    from airflow_sync.jobs.model import Job

    return Job.from_wire(
        {
            "JobName": f"conn_{source}_{destination}",
            "Source": source,
            "Destination": destination,
            "Query#1": "REPLICATE [t]",
        }
    )


def test_the_store_accepts_generic_sql_connections_and_refuses_the_rest_naming_them(env_conns):
    from airflow_sync.exceptions import JobValidationError
    from airflow_sync.jobs import store

    pytest.importorskip("duckdb_provider", reason="airflow-provider-duckdb is not installed")
    job = store.create_job(make_job("c_sqlite", "c_duck"))
    try:
        assert store.get_job(job.name).destination == "c_duck"
    finally:
        store.delete_job(job.name)
    with pytest.raises(JobValidationError) as err:
        store.create_job(make_job("c_http", "c_odd"))
    text = str(err.value)
    assert "'c_http' has type 'http'" in text and "'c_odd' has type 'nosuchdb'" in text
    assert "cannot be replicated" in text
    assert {field for field, _ in err.value.errors} == {"Source", "Destination"}

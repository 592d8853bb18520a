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
        "c_http": {"conn_type": "http", "host": "example.com"},
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


def test_a_sqlite_url_opens_the_file(env_conns):
    import sqlalchemy

    from airflow_sync.jobs.connections import sqlalchemy_url

    engine = sqlalchemy.create_engine(sqlalchemy_url("c_sqlite"))
    with engine.begin() as c:
        c.execute(sqlalchemy.text("create table t (a int)"))
    engine.dispose()
    assert (env_conns / "x.db").exists()

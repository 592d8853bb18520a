"""Creating, modifying and deleting Airflow connections through /api.rsc/connections, checked by using the
result for real (testConnection against PostgreSQL and MariaDB) and against the metadata DB."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from tests.integration.api.conn_support import API, CapturedLogs, rows, store_connection, unique
from tests.integration.api.jobs_support import active_runs, create_job, ensure_connections, finish_run

PASSWORD = "Crud-s3cret-pw"


@pytest.fixture(scope="module")
def admin(token_headers) -> dict[str, str]:
    return token_headers("admin")


def _db_connection(conn_id: str):
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        conn = s.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        if conn is None:
            return None
        return {
            "conn_type": conn.conn_type,
            "host": conn.host,
            "port": conn.port,
            "schema": conn.schema,
            "login": conn.login,
            "password": conn.password,
            "extra": conn.extra_dejson,
        }


def _pg_string(pg_url: str, **overrides: str) -> str:
    u = make_url(pg_url)
    keys = {"Server": u.host, "Port": str(u.port), "Database": u.database, "User": u.username}
    keys.update({"Password": PASSWORD, "SSLMode": "disable", **overrides})
    return ";".join(f"{k}={v}" for k, v in keys.items())


def _test(client, headers, name) -> dict:
    (row,) = rows(client.post(f"{API}/testConnection", json={"ConnectionName": name}, headers=headers))
    return row


def test_create_postgres_from_a_cdata_string_and_use_it(api_client, admin, pg_url):
    name = unique("as_new_pg")
    body = {"Name": name, "ProviderName": "CData.PostgreSQL", "ConnectionString": _pg_string(pg_url)}
    with CapturedLogs() as logs:
        r = api_client.post(f"{API}/connections", json=body, headers=admin)
        row = _test(api_client, admin, name) if r.status_code == 201 else {}
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["@odata.context"].endswith("$metadata#connections/$entity")
    assert (created["Name"], created["ProviderName"], created["ConnectionState"]) == (
        name,
        "PostgreSQL",
        "Untested",
    )
    assert "Password=********" in created["ConnectionString"] and PASSWORD not in r.text
    u = make_url(pg_url)
    assert _db_connection(name) == {
        "conn_type": "postgres",
        "host": u.host,
        "port": u.port,
        "schema": u.database,
        "login": u.username,
        "password": PASSWORD,
        "extra": {"sslmode": "disable"},
    }
    assert row["Result"] == "Success" and row["ServerVersion"].startswith("PostgreSQL")
    assert "Created connection" in logs.text and "testConnection" in logs.text
    assert PASSWORD not in logs.text  # nothing logged the secret on the way


def test_create_mariadb_and_sqlite(api_client, admin, mysql_url, airflow_home):
    u = make_url(mysql_url)
    name = unique("as_new_my")
    text = f"Server={u.host};Port={u.port};Database={u.database};UID={u.username};Charset=utf8mb4"
    r = api_client.post(
        f"{API}/connections",
        data={"Name": name, "ProviderName": "MariaDB", "ConnectionString": text},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["ProviderName"] == "MySQL" and _db_connection(name)["conn_type"] == "mysql"
    assert _test(api_client, admin, name)["ServerVersion"].startswith("MariaDB ")

    path = os.path.join(airflow_home, f"{unique('new')}.db")
    lite = unique("as_new_lite")
    r = api_client.post(
        f"{API}/connections",
        json={"name": lite, "providername": "SQLite", "connectionstring": f'Data Source="{path}"'},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["ConnectionString"] == f"Database={path}"
    assert _db_connection(lite)["host"] == path


@pytest.mark.parametrize(
    ("body", "status", "target"),
    [
        ({"ProviderName": "PostgreSQL", "ConnectionString": "Server=h"}, 400, "Name"),
        ({"Name": "a b", "ProviderName": "PostgreSQL", "ConnectionString": "Server=h"}, 400, "Name"),
        (
            {"Name": "ok_name", "ProviderName": "Salesforce", "ConnectionString": "User=x"},
            400,
            "ProviderName",
        ),
        ({"Name": "ok_name", "ProviderName": "http", "ConnectionString": "Server=h"}, 400, "ProviderName"),
        (
            {"Name": "ok_name", "ProviderName": "PostgreSQL", "ConnectionString": "Server=h;Timeout=3"},
            400,
            "Timeout",
        ),
        ({"Name": "ok_name", "ProviderName": "PostgreSQL", "ConnectionString": "Port=5432"}, 400, "Server"),
        (
            {"Name": "ok_name", "ProviderName": "SQLite", "ConnectionString": "Database=rel.db"},
            400,
            "Database",
        ),
        (
            {"Name": "ok_name", "ProviderName": "MySQL", "ConnectionString": "Server=h;UseSSL=true"},
            400,
            "UseSSL",
        ),
        (
            {
                "Name": "ok_name",
                "ProviderName": "PostgreSQL",
                "ConnectionString": "Server=h;Password=********",
            },
            400,
            "ConnectionString",
        ),
        (
            {"Name": "ok_name", "ProviderName": "PostgreSQL", "ConnectionString": "Server=h", "Colour": "x"},
            400,
            "Colour",
        ),
    ],
)
def test_create_refuses_what_it_cannot_use_and_writes_nothing(api_client, admin, body, status, target):
    r = api_client.post(f"{API}/connections", json=body, headers=admin)
    assert r.status_code == status, r.text
    _assert_names(r.json()["error"], target)
    assert _db_connection("ok_name") is None


#: what a refused connection string names: the request field is ConnectionString, the message the key
_FIELDS = ("Name", "ProviderName", "ConnectionString", "Colour", "Description")


def _assert_names(error: dict, what: str) -> None:
    if what in _FIELDS:
        assert error["target"] == what, error
    else:
        assert error["target"] == "ConnectionString" and what in error["message"], error


def test_create_refuses_an_existing_name_anywhere_airflow_looks(api_client, admin, airflow_home):
    src, _ = ensure_connections(airflow_home)  # AIRFLOW_CONN_* environment variables
    body = {"Name": src, "ProviderName": "SQLite", "ConnectionString": f"Database={airflow_home}/x.db"}
    r = api_client.post(f"{API}/connections", json=body, headers=admin)
    assert r.status_code == 409 and "environment variable" in r.json()["error"]["message"]
    name = unique("as_dup")
    body["Name"] = name
    assert api_client.post(f"{API}/connections", json=body, headers=admin).status_code == 201
    again = api_client.post(f"{API}/connections", json=body, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ConnectionExists"


def test_generic_sql_types_take_the_clear_keys(api_client, admin, airflow_home):
    pytest.importorskip("duckdb_provider", reason="airflow-provider-duckdb is not installed")
    name = unique("as_duck")
    path = os.path.join(airflow_home, f"{name}.duckdb")
    r = api_client.post(
        f"{API}/connections",
        json={"Name": name, "ProviderName": "duckdb", "ConnectionString": f"Server={path}"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["ProviderName"] == "duckdb"
    listed = {row["Name"] for row in rows(api_client.get(f"{API}/connections", headers=admin))}
    assert name in listed
    import duckdb

    with duckdb.connect(path) as db:
        db.execute("CREATE TABLE sales (id INTEGER PRIMARY KEY, amount DECIMAL(10, 2), note VARCHAR)")
    assert _test(api_client, admin, name)["ServerVersion"].startswith("duckdb")
    tables = rows(api_client.post(f"{API}/getConnectionTables", json={"ConnectionName": name}, headers=admin))
    assert [(t["TableName"], t["TableType"]) for t in tables] == [("sales", "TABLE")]
    r = api_client.post(
        f"{API}/getConnectionTableColumns", json={"ConnectionName": name, "Table": "sales"}, headers=admin
    )
    cols = {c["ColumnName"]: c for c in rows(r)}
    assert (cols["id"]["IsPrimaryKey"], cols["id"]["IsNullable"]) == ("True", "False")
    assert (cols["amount"]["DataType"], cols["amount"]["Precision"], cols["amount"]["Scale"]) == (
        "DECIMAL",
        "10",
        "2",
    )
    bad = api_client.post(
        f"{API}/connections",
        json={"Name": unique("as_duck"), "ProviderName": "duckdb", "ConnectionString": "Server=x;Charset=y"},
        headers=admin,
    )
    assert bad.status_code == 400
    _assert_names(bad.json()["error"], "Charset")


def test_only_admins_write(api_client, token_headers, jwt_headers, airflow_home):
    def body():
        return {
            "Name": unique("as_w"),
            "ProviderName": "SQLite",
            "ConnectionString": f"Database={airflow_home}/w.db",
        }

    for headers in (token_headers("job_creator"), token_headers("viewer"), jwt_headers("user")):
        r = api_client.post(f"{API}/connections", json=body(), headers=headers)
        assert r.status_code == 403, r.text
    ok = api_client.post(f"{API}/connections", json=body(), headers=jwt_headers("op"))  # may edit connections
    assert ok.status_code == 201, ok.text
    name = ok.json()["Name"]
    for method in ("put", "delete"):
        kwargs = {"json": {"Description": "x"}} if method == "put" else {}
        r = getattr(api_client, method)(
            f"{API}/connections('{name}')", headers=token_headers("standard"), **kwargs
        )
        assert r.status_code == 403


def test_modify_changes_only_the_given_keys(api_client, admin, pg_url):
    name = unique("as_mod")
    body = {"Name": name, "ProviderName": "PostgreSQL", "ConnectionString": _pg_string(pg_url)}
    assert api_client.post(f"{API}/connections", json=body, headers=admin).status_code == 201
    assert _test(api_client, admin, name)["Result"] == "Success"
    before = _db_connection(name)

    r = api_client.put(f"{API}/connections('{name}')", json={"ConnectionString": "Port=1"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["ConnectionState"] == "Untested"  # the last test was of other settings
    assert _db_connection(name) == {**before, "port": 1}
    failed = _test(api_client, admin, name)
    assert failed["Result"] == "Failed" and PASSWORD not in json.dumps(failed)

    # the masked string of a GET can be sent back as it is: the password stays
    masked = api_client.get(f"{API}/connections('{name}')", headers=admin).json()["ConnectionString"]
    fixed = masked.replace("Port=1", f"Port={make_url(pg_url).port}")
    r = api_client.put(
        f"{API}/connections('{name}')",
        json={"ConnectionString": fixed, "Description": "crm", "ProviderName": "postgres", "Name": name},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert _db_connection(name)["password"] == PASSWORD
    assert _test(api_client, admin, name)["Result"] == "Success"
    r = api_client.put(f"{API}/connections('{name}')", json={"ConnectionString": "SSLMode="}, headers=admin)
    assert _db_connection(name)["extra"] == {} and r.json()["Description"] == "crm"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"Name": "other"}, "Name"),
        ({"ProviderName": "MySQL"}, "ProviderName"),
        ({"ConnectionString": "Server="}, "Server"),
        ({"ConnectionString": "Color=red"}, "Color"),
    ],
)
def test_modify_refusals_change_nothing(api_client, admin, airflow_home, body, target):
    name = unique("as_mod")
    path = f"{airflow_home}/{name}.db"
    store_connection(name, "postgres", host="db.example", password=PASSWORD)
    before = _db_connection(name)
    r = api_client.put(f"{API}/connections('{name}')", json=body, headers=admin)
    assert r.status_code == 400, r.text
    _assert_names(r.json()["error"], target)
    assert _db_connection(name) == before
    assert not os.path.exists(path)


def test_environment_connections_are_read_only(api_client, admin, airflow_home):
    src, _ = ensure_connections(airflow_home)
    for method in ("put", "delete"):
        kwargs = {"json": {"Description": "x"}} if method == "put" else {}
        r = getattr(api_client, method)(f"{API}/connections('{src}')", headers=admin, **kwargs)
        assert r.status_code == 409 and r.json()["error"]["code"] == "ConnectionReadOnly"
    assert api_client.put(f"{API}/connections('nope_x')", json={}, headers=admin).status_code == 404
    assert api_client.delete(f"{API}/connections('nope_x')", headers=admin).status_code == 404


def test_jobs_keep_their_connections(api_client, admin, airflow_home):
    """A referenced connection cannot be deleted (409 naming the jobs); while a job using it runs, it cannot
    be modified either."""
    _, dst = ensure_connections(airflow_home)
    src = unique("as_ref")
    path = f"{airflow_home}/{src}.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    body = {"Name": src, "ProviderName": "SQLite", "ConnectionString": f"Database={path}"}
    assert api_client.post(f"{API}/connections", json=body, headers=admin).status_code == 201
    job = unique("job")
    create_job(api_client, admin, job, "REPLICATE [t]", Source=src, Destination=dst)

    r = api_client.delete(f"{API}/connections('{src}')", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ConnectionInUse"
    assert repr(job) in r.json()["error"]["message"]

    run = api_client.post(
        f"{API}/executeJob", json={"JobName": job, "WaitForResults": "false"}, headers=admin
    )
    assert run.status_code == 200, run.text
    busy = api_client.put(f"{API}/connections('{src}')", json={"Description": "x"}, headers=admin)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "JobRunning" and job in busy.text
    for active in active_runs(f"sync__{job}"):
        finish_run(active.dag_id, active.run_id)
    assert (
        api_client.put(f"{API}/connections('{src}')", json={"Description": "x"}, headers=admin).status_code
        == 200
    )

    assert api_client.delete(f"{API}/jobs('{job}')", headers=admin).status_code == 204
    assert _test(api_client, admin, src)["Result"] == "Success"
    assert api_client.delete(f"{API}/connections('{src}')", headers=admin).status_code == 204
    assert _db_connection(src) is None
    assert api_client.get(f"{API}/connections('{src}')", headers=admin).status_code == 404
    from airflow.utils.session import create_session

    from airflow_sync.db.models import ConnectionState

    with create_session() as s:
        assert s.get(ConnectionState, src) is None  # its test outcome went with it

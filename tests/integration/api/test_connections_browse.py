"""Connections list, getConnectionTables, getConnectionTableColumns and testConnection against real
PostgreSQL, MariaDB and SQLite databases behind real Airflow connections (metadata DB rows and env vars)."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.integration.api.conn_support import (
    API,
    PG_PASSWORD,
    SECRET_TOKEN,
    CapturedLogs,
    mysql_catalog,
    mysql_connection,
    pg_catalog,
    pg_connection,
    rows,
    sqlite_catalog,
    store_connection,
    unique,
)


@pytest.fixture(scope="module")
def pg_conn(api_client, pg_url) -> str:
    pg_catalog(pg_url)
    return pg_connection(pg_url)


@pytest.fixture(scope="module")
def my_conn(api_client, mysql_url) -> str:
    mysql_catalog(mysql_url)
    return mysql_connection(mysql_url)


@pytest.fixture(scope="module")
def lite_conn(api_client, airflow_home) -> str:
    return sqlite_catalog(airflow_home)[0]


@pytest.fixture(scope="module")
def admin(token_headers) -> dict[str, str]:
    return token_headers("admin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tables(client, headers, conn_id, **body):
    r = client.post(f"{API}/getConnectionTables", json={"ConnectionName": conn_id, **body}, headers=headers)
    return rows(r)


def _columns(client, headers, conn_id, table):
    r = client.post(
        f"{API}/getConnectionTableColumns", json={"ConnectionName": conn_id, "Table": table}, headers=headers
    )
    return {c["ColumnName"]: c for c in rows(r)}


# ------------------------------------------------------------------------------------------------ list


def test_list_shows_sql_connections_masked_and_env_ones_read_only(
    api_client, admin, pg_conn, my_conn, lite_conn, airflow_home
):
    http_id = unique("as_conn_http")
    store_connection(http_id, "http", host="example.com", password="http-secret-pw")
    env_id = unique("as_conn_env")
    os.environ[f"AIRFLOW_CONN_{env_id.upper()}"] = json.dumps(
        {"conn_type": "sqlite", "host": f"{airflow_home}/env.db", "password": "env-secret-pw"}
    )
    try:
        r = api_client.get(f"{API}/connections", headers=admin)
        by_name = {row["Name"]: row for row in rows(r)}
        for secret in (PG_PASSWORD, SECRET_TOKEN, "http-secret-pw", "env-secret-pw"):
            assert secret not in r.text
        assert http_id not in by_name  # not a database
        pg = by_name[pg_conn]
        assert pg["ProviderName"] == "PostgreSQL"
        assert "Password=********" in pg["ConnectionString"]
        assert "api_token=********" in pg["ConnectionString"]
        assert "SSLMode=disable" in pg["ConnectionString"]
        assert (pg["ConnectionState"], pg["LastTested"], pg["Origin"]) == ("Untested", None, "metastore")
        assert (pg["CanUpdate"], pg["CanRemove"]) == ("True", "True")
        assert by_name[my_conn]["ProviderName"] == "MySQL"
        assert by_name[lite_conn]["ConnectionString"].startswith("Database=/")
        env = by_name[env_id]
        assert (env["Origin"], env["CanUpdate"], env["CanRemove"]) == ("environment", "False", "False")
        assert env["ConnectionString"] == f"Database={airflow_home}/env.db"  # SQLite has no password key
    finally:
        del os.environ[f"AIRFLOW_CONN_{env_id.upper()}"]


def test_list_odata_count_and_single_entity(api_client, admin, pg_conn, my_conn):
    r = api_client.get(
        f"{API}/connections",
        params={"$filter": "ProviderName eq 'PostgreSQL'", "$select": "Name,ProviderName", "$count": "true"},
        headers=admin,
    )
    body = r.json()
    names = [row["Name"] for row in rows(r)]
    assert pg_conn in names and my_conn not in names
    assert all(set(row) == {"Name", "ProviderName"} for row in body["value"])
    assert body["@odata.count"] == len(names)
    count = api_client.get(
        f"{API}/connections/$count", params={"$filter": "ProviderName eq 'PostgreSQL'"}, headers=admin
    )
    assert count.status_code == 200 and count.text == str(len(names))

    one = api_client.get(f"{API}/connections('{pg_conn}')", headers=admin)
    assert one.status_code == 200 and one.json()["Name"] == pg_conn
    assert one.json()["@odata.context"].endswith("$metadata#connections/$entity")
    assert api_client.get(f"{API}/Connections(Name='{pg_conn}')", headers=admin).json()["Name"] == pg_conn
    prop = api_client.get(f"{API}/connections('{pg_conn}')/providername", headers=admin)
    assert prop.json()["value"] == "PostgreSQL"
    raw = api_client.get(f"{API}/connections('{pg_conn}')/ConnectionString/$value", headers=admin)
    assert "Password=********" in raw.text and PG_PASSWORD not in raw.text
    missing = api_client.get(f"{API}/connections('nope_{pg_conn}')", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ConnectionNotFound"


def test_who_may_read_connections(api_client, token_headers, jwt_headers, pg_conn):
    assert api_client.get(f"{API}/connections", headers=token_headers("viewer")).status_code == 200
    # Airflow's simple auth manager lets only op/admin users read connections: its decision is kept
    denied = api_client.get(f"{API}/connections", headers=jwt_headers("viewer"))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Forbidden"
    r = api_client.post(
        f"{API}/getConnectionTables", json={"ConnectionName": pg_conn}, headers=jwt_headers("user")
    )
    assert r.status_code == 403
    ok = api_client.get(f"{API}/connections('{pg_conn}')", headers=jwt_headers("op"))
    assert ok.status_code == 200 and ok.json()["CanUpdate"] == "True"
    assert api_client.get(f"{API}/connections").status_code == 401


# ---------------------------------------------------------------------------------------------- tables


def test_postgres_tables_views_schema_and_paging(api_client, token_headers, pg_conn, pg_url):
    viewer = token_headers("viewer")
    every = _tables(api_client, viewer, pg_conn)
    found = {(t["Schema"], t["TableName"]): t["TableType"] for t in every}
    assert found == {
        ("crm", "accounts"): "TABLE",
        ("crm", "big_accounts"): "VIEW",
        ("crm", "orders"): "TABLE",
        ("public", "Mixed Case"): "TABLE",
    }
    assert all(t["Catalog"] is None for t in every)
    views = _tables(api_client, viewer, pg_conn, TableOrView="views", Schema="crm", IncludeCatalog="True")
    database = pg_url.rsplit("/", 1)[1]
    assert views == [{"TableName": "big_accounts", "Schema": "crm", "Catalog": database, "TableType": "VIEW"}]
    page = _tables(api_client, viewer, pg_conn, TableOrView="TABLES", Schema="crm", TopTable="1", SkipTable=1)
    assert [t["TableName"] for t in page] == ["orders"]
    bare = _tables(api_client, viewer, pg_conn, Schema="crm", IncludeSchema=False)
    assert {t["Schema"] for t in bare} == {None}


def test_mariadb_and_sqlite_tables(api_client, admin, my_conn, lite_conn):
    mine = {(t["TableName"], t["TableType"]) for t in _tables(api_client, admin, my_conn)}
    assert mine == {("accounts", "TABLE"), ("orders", "TABLE"), ("big_accounts", "VIEW")}
    lite = _tables(api_client, admin, lite_conn)
    assert {(t["Schema"], t["TableName"], t["TableType"]) for t in lite} == {
        ("main", "accounts", "TABLE"),
        ("main", "orders", "TABLE"),
        ("main", "big_accounts", "VIEW"),
    }  # _airflow_sync_state (the engine's own) left out


# --------------------------------------------------------------------------------------------- columns


@pytest.mark.parametrize("backend", ["pg", "mysql", "sqlite"])
def test_columns_as_the_engine_reflects_them(api_client, request, admin, backend):
    conn_id, table, types = {
        "pg": ("pg_conn", "crm.accounts", ("int4", "varchar", "numeric")),
        "mysql": ("my_conn", "accounts", ("int", "varchar", "decimal")),
        "sqlite": ("lite_conn", "[main].[accounts]", ("INTEGER", "VARCHAR", "NUMERIC")),
    }[backend]
    cols = _columns(api_client, admin, request.getfixturevalue(conn_id), table)
    assert list(cols) == ["id", "name", "balance", "updated_at"]
    assert (cols["id"]["DataType"], cols["id"]["IsPrimaryKey"], cols["id"]["IsNullable"]) == (
        types[0],
        "True",
        "False",
    )
    assert (cols["name"]["DataType"], cols["name"]["MaxLength"], cols["name"]["IsNullable"]) == (
        types[1],
        "100",
        "False",
    )
    assert (cols["balance"]["DataType"], cols["balance"]["Precision"], cols["balance"]["Scale"]) == (
        types[2],
        "12",
        "2",
    )
    assert (cols["updated_at"]["IsNullable"], cols["updated_at"]["IsPrimaryKey"]) == ("True", "False")


def test_columns_of_quoted_names_views_and_missing_tables(api_client, admin, pg_conn):
    mixed = _columns(api_client, admin, pg_conn, '"public"."Mixed Case"')
    assert mixed["Key"]["IsPrimaryKey"] == "True"
    assert list(_columns(api_client, admin, pg_conn, "[crm].[big_accounts]")) == ["id", "name"]
    r = api_client.post(
        f"{API}/getConnectionTableColumns",
        json={"ConnectionName": pg_conn, "Table": "crm.nope"},
        headers=admin,
    )
    assert r.status_code == 404 and r.json()["error"]["target"] == "Table"
    bad = api_client.post(
        f"{API}/getConnectionTableColumns", json={"ConnectionName": pg_conn, "Table": "[crm"}, headers=admin
    )
    assert bad.status_code == 400 and bad.json()["error"]["target"] == "Table"


# ---------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({}, "ConnectionName"),
        ({"ConnectionName": "x", "Tabel": "t"}, "Tabel"),
        ({"ConnectionName": "x", "TopTable": "ten"}, "TopTable"),
        ({"ConnectionName": "x", "TableOrView": "everything"}, "TableOrView"),
        ({"ConnectionName": "x", "WorkspaceId": "other"}, "WorkspaceId"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api_client, admin, body, target):
    r = api_client.post(f"{API}/getConnectionTables", json=body, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["target"] == target


def test_form_bodies_and_case_insensitive_names(api_client, admin, lite_conn):
    r = api_client.post(
        f"{API}/GETCONNECTIONTABLES",
        data={"connectionname": lite_conn, "tableorview": "VIEWS"},
        headers=admin,
    )
    assert [t["TableName"] for t in rows(r)] == ["big_accounts"]


# -------------------------------------------------------------------------------------------- failures


def test_unreachable_server_is_a_400_without_secrets(api_client, admin, airflow_home):
    down = unique("as_conn_down")
    store_connection(down, "postgres", host="127.0.0.1", port=_free_port(), login="u", password=PG_PASSWORD)
    with CapturedLogs() as logs:
        r = api_client.post(
            f"{API}/getConnectionTables", json={"ConnectionName": down, "Timeout": 5}, headers=admin
        )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "ConnectionFailed" and PG_PASSWORD not in r.text
    assert down in logs.text and PG_PASSWORD not in logs.text  # the failure is logged, scrubbed

    gone = unique("as_conn_gone")
    path = f"{airflow_home}/{gone}.db"
    store_connection(gone, "sqlite", host=path)
    r = api_client.post(f"{API}/getConnectionTables", json={"ConnectionName": gone}, headers=admin)
    assert r.status_code == 400 and "does not exist" in r.json()["error"]["message"]
    assert not os.path.exists(path)  # browsing never creates a SQLite file


# ------------------------------------------------------------------------------------------------ test


def test_test_connection_records_state(api_client, admin, token_headers, pg_conn, my_conn, lite_conn):
    for conn_id, product in ((pg_conn, "PostgreSQL "), (my_conn, "MariaDB "), (lite_conn, "SQLite 3.")):
        r = api_client.post(
            f"{API}/testConnection", json={"ConnectionName": conn_id}, headers=token_headers("viewer")
        )
        (row,) = rows(r)
        assert (row["Result"], row["ConnectionState"]) == ("Success", "Tested"), row
        assert row["ServerVersion"].startswith(product)
        entity = api_client.get(f"{API}/connections('{conn_id}')", headers=admin).json()
        assert (entity["ConnectionState"], entity["LastTested"]) == ("Tested", row["LastTested"])


def test_failed_test_is_recorded_and_bounded_by_the_timeout(api_client, admin):
    down = unique("as_conn_down")
    store_connection(
        down, "mysql", host="127.0.0.1", port=_free_port(), login="root", password="my-secret-pw"
    )
    with CapturedLogs() as logs:
        r = api_client.post(
            f"{API}/testConnection", json={"ConnectionName": down, "Timeout": "3"}, headers=admin
        )
    (row,) = rows(r)
    assert (row["Result"], row["ConnectionState"], row["ServerVersion"]) == ("Failed", "Failed", None)
    assert float(row["Seconds"]) < 4 and "my-secret-pw" not in r.text
    entity = api_client.get(f"{API}/connections('{down}')", headers=admin).json()
    assert entity["ConnectionState"] == "Failed"
    assert "testConnection" in logs.text and "my-secret-pw" not in logs.text


def test_secrets_file_connections_are_listed_read_only(
    api_client, admin, airflow_home, monkeypatch, lite_conn
):
    """A local secrets file (LocalFilesystemBackend) is listable: its connections show, masked, read-only."""
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend
    from airflow.secrets.local_filesystem import LocalFilesystemBackend
    from airflow.secrets.metastore import MetastoreBackend

    name = unique("as_file_conn")
    path = os.path.join(airflow_home, f"{name}.json")
    with open(path, "w") as f:
        json.dump({name: {"conn_type": "postgres", "host": "db.example", "password": "file-secret-pw"}}, f)
    backends = [
        EnvironmentVariablesBackend(),
        LocalFilesystemBackend(connections_file_path=path),
        MetastoreBackend(),
    ]
    monkeypatch.setattr("airflow.configuration.ensure_secrets_loaded", lambda *a, **k: backends)

    r = api_client.get(f"{API}/connections", headers=admin)
    by_name = {row["Name"]: row for row in rows(r)}
    assert "file-secret-pw" not in r.text
    row = by_name[name]
    assert (row["Origin"], row["CanUpdate"], row["ProviderName"]) == ("secrets file", "False", "PostgreSQL")
    assert row["ConnectionString"] == "Server=db.example;Password=********"
    assert by_name[lite_conn]["Origin"] == "metastore"  # the DB's own still come through
    one = api_client.get(f"{API}/connections('{name}')", headers=admin)
    assert one.status_code == 200 and one.json()["Origin"] == "secrets file"
    r = api_client.delete(f"{API}/connections('{name}')", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ConnectionReadOnly"

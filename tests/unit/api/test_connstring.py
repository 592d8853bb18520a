"""CData connection strings: parsing, mapping onto Airflow connection fields, masked rendering."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_sync.api.services import connstring
from airflow_sync.api.services.connstring import MASK, ConnectionStringError


def test_parse_quotes_spaces_and_case():
    pairs = connstring.parse(
        ' Server = db.local ;Port=5432;Database="a;b";Password=\'it\'\'s\';Data Source = x ; ;User="""q"""'
    )
    assert pairs == {
        "Server": "db.local",
        "Port": "5432",
        "Database": "a;b",
        "Password": "it's",
        "Data Source": "x",
        "User": '"q"',
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Server", "has no value"),
        ("=x", "key is empty"),
        ("Password='abc", "no closing"),
        ("Server=a;server=b", "given twice"),
        ("Password='a'b", "after the quoted value"),
    ],
)
def test_parse_refuses_malformed_strings(text, fragment):
    with pytest.raises(ConnectionStringError, match=fragment):
        connstring.parse(text)


def test_render_round_trips_through_parse():
    pairs = [("Password", "a;b"), ("User", " x"), ("Database", 'q"uote'), ("Server", "plain")]
    assert connstring.parse(connstring.render(pairs)) == dict(pairs)


def test_postgres_keys_map_onto_the_fields_the_engine_uses():
    pairs = connstring.parse(
        "Host=h;Port=6432;Database=crm;UID=etl;PWD=pw;SSLServerCert=/ca.pem;SSLClientCert=/c"
    )
    fields = connstring.to_fields(pairs, connstring.POSTGRES, "postgres")
    assert (fields.host, fields.port, fields.schema, fields.login, fields.password) == (
        "h",
        6432,
        "crm",
        "etl",
        "pw",
    )
    assert fields.extra == {"sslrootcert": "/ca.pem", "sslmode": "verify-full", "sslcert": "/c"}
    assert connstring.to_fields({"UseSSL": "true"}, connstring.POSTGRES, "postgres").extra == {
        "sslmode": "require"
    }
    assert connstring.to_fields({"SSLServerCert": "*"}, connstring.POSTGRES, "postgres").extra == {
        "sslmode": "require"
    }


@pytest.mark.parametrize(
    ("provider", "text", "field"),
    [
        (connstring.POSTGRES, "Server=h;Timeout=5", "Timeout"),  # stored but never used: refused
        (connstring.POSTGRES, "Port=99999", "Port"),
        (connstring.POSTGRES, "SSLMode=sometimes", "SSLMode"),
        (connstring.MYSQL, "UseSSL=True", "UseSSL"),  # cannot be required without a CA to verify
        (connstring.SQLITE, "Server=h", "Server"),
        (None, "Server=h;SSLMode=require", "SSLMode"),  # generic types: only the clear keys
    ],
)
def test_unusable_keys_are_named(provider, text, field):
    with pytest.raises(ConnectionStringError) as info:
        connstring.to_fields(connstring.parse(text), provider, "duckdb")
    assert info.value.key == field and info.value.field == "ConnectionString"


def test_the_mask_means_unchanged_and_empty_means_clear():
    fields = connstring.to_fields(connstring.parse(f"Password={MASK};User="), connstring.MYSQL, "mysql")
    assert fields.unchanged == {"password"} and fields.login == ""


def test_provider_names():
    assert connstring.provider_for("CData.PostgreSQL") is connstring.POSTGRES
    assert connstring.provider_for(" mariadb ") is connstring.MYSQL
    assert connstring.provider_for("System.Data.SQLite") is connstring.SQLITE
    assert connstring.provider_for("Salesforce") is None
    assert connstring.provider_name("postgres") == "PostgreSQL"
    assert connstring.provider_name("duckdb") == "duckdb"


def test_render_masks_password_secret_extras_and_url_passwords():
    conn = SimpleNamespace(host="h", port=5432, schema="crm", login="etl", password="pw-123456")
    extra = {
        "sslmode": "require",
        "client_secret": "abc-secret",
        "private_key": "-----BEGIN",
        "callback": "https://u:url-pass@example.com/x",
        "nested": {"token": "tok-123", "region": "eu"},
    }
    text = connstring.render_connection(conn, provider=connstring.POSTGRES, extra=extra)
    for secret in ("pw-123456", "abc-secret", "-----BEGIN", "url-pass", "tok-123"):
        assert secret not in text
    assert text.startswith("Server=h;Port=5432;Database=crm;User=etl;Password=********;SSLMode=require;")
    parsed = connstring.parse(text)
    assert parsed["client_secret"] == MASK and parsed["nested"] == '{"region": "eu", "token": "********"}'


def test_scrub_text_replaces_known_secrets():
    assert connstring.scrub_text("auth failed for pw-123456", ["pw-123456"]) == f"auth failed for {MASK}"

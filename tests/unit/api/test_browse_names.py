"""Table names as getConnectionTableColumns accepts them."""

from __future__ import annotations

import pytest

from airflow_sync.api.services.browse import BrowseError, split_table_name, with_deadline


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("orders", ["orders"]),
        ("crm.orders", ["crm", "orders"]),
        ("[crm].[Order Lines]", ["crm", "Order Lines"]),
        ('"public"."Mixed ""Q"""', ["public", 'Mixed "Q"']),
        ("`db`.`t`", ["db", "t"]),
        ("[a]]b]", ["a]b"]),
        ("cat.sch.tab", ["cat", "sch", "tab"]),
    ],
)
def test_split_table_name(text, parts):
    assert split_table_name(text) == parts


@pytest.mark.parametrize("text", ["", "[crm", "crm.", "a..b", '"x"y'])
def test_split_table_name_refuses(text):
    with pytest.raises(ValueError):
        split_table_name(text)


def test_deadline_abandons_a_call_that_does_not_return():
    import threading

    release = threading.Event()
    with pytest.raises(BrowseError) as info:
        with_deadline(release.wait, 0.2, "the database")
    release.set()
    assert info.value.timeout and "0.2 s" in info.value.message


def test_secrets_of_a_url_include_secret_query_values():
    from sqlalchemy.engine import make_url

    from airflow_sync.api.services.browse import _secrets

    url = make_url("duckdb:///md:db?motherduck_token=tok-1234&sslpassword=pw-999&region=eu")
    assert set(_secrets(url)) == {"tok-1234", "pw-999"}
    assert _secrets(make_url("postgresql://u:pass-1@h/db")) == ("pass-1",)

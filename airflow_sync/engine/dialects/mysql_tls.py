"""TLS for MySQL / MariaDB connections: the connection's certificate options, and PyMySQL's default.

The Airflow connection's ``ssl_ca`` / ``ssl_cert`` / ``ssl_key`` (or MySqlHook's ``ssl`` extra, see
:mod:`airflow_sync.jobs.connections`) arrive in the URL's query and are passed to both drivers: with a CA,
TLS is required and the server certificate verified. Without options, PyMySQL uses TLS when the server
offers it, unverified ("preferred"), and builds a new SSL context for that on every connection — loading
the system's CA store each time, ~50 ms per connection here, for a context that verifies nothing. That
context is built once per process instead.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any

#: URL query keys passed on to the drivers (same names in PyMySQL and mysql-connector-python)
TLS_KEYS = ("ssl_ca", "ssl_cert", "ssl_key")


def tls_params(query: Mapping[str, Any]) -> dict[str, str]:
    """The TLS options present in a connection URL's query."""
    return {k: str(query[k]) for k in TLS_KEYS if isinstance(query.get(k), str) and query[k]}


def connector_tls(params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`tls_params` for mysql-connector-python, which verifies a given CA only when asked to."""
    tls: dict[str, Any] = tls_params(params)
    if "ssl_ca" in tls:
        tls["ssl_verify_cert"] = True
    return tls


@functools.cache
def preferred_context() -> ssl.SSLContext:
    """What PyMySQL builds for "use TLS if offered, verify nothing", without loading a CA store."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx

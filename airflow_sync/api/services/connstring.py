"""CData connection strings <-> Airflow connections (connections-tasks spec, "Connections").

A CData connection string is ``Key=Value;Key=Value`` (ADO.NET style): keys are case-insensitive and may
contain spaces (``Data Source``), a value may be quoted with ``"`` or ``'`` (the quote doubled inside) to
hold ``;`` or spaces at its ends. :func:`parse` reads one; :func:`render` writes one, masking secrets.

:data:`PROVIDERS` says how each supported provider's keys land in an Airflow connection: host, port,
schema (the database), login, password and the extras the engine really passes to its driver. A key that
would be stored but never used is refused (400 naming it), so a connection string never silently does less
than it says. Connections of other SQL types (any ``DbApiHook`` type, "generic") accept the keys whose
mapping is clear: server, port, database, user, password.

No Airflow imports at module level: unit tests and the CLI import this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_sync.exceptions import JobValidationError

#: what a masked secret looks like on the wire; sending it back in a PUT means "unchanged"
MASK = "********"


class ConnectionStringError(JobValidationError):
    """A connection string, or one of its keys, that cannot be used (400; the message names the key, the
    target is the ``ConnectionString`` field).

    :param key: the connection-string key at fault, if one is
    """

    code = "InvalidConnectionString"

    def __init__(self, message: str, *, field: str | None = None, key: str | None = None) -> None:
        super().__init__(message, field="ConnectionString")
        self.key = key or (field if field and field != "ConnectionString" else None)


# --------------------------------------------------------------------------------------------- parsing


def parse(text: str, *, field_name: str = "ConnectionString") -> dict[str, str]:
    """The ``Key=Value`` pairs of a CData connection string, in order, keys as written (trimmed).

    :param text: the connection string
    :param field_name: the request field, for error messages
    :raises ConnectionStringError: a segment without ``=``, an empty key, an unterminated quote, a key given
        twice
    """
    pairs: dict[str, str] = {}
    seen: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        # key: up to '='; a ';' first means a segment without a value
        j = i
        while j < n and text[j] not in "=;":
            j += 1
        key = text[i:j].strip()
        if j >= n or text[j] == ";":
            if key:
                raise ConnectionStringError(
                    f"{field_name}: {key!r} has no value; write Key=Value pairs separated by ';'",
                    field=field_name,
                )
            i = j + 1
            continue
        if not key:
            raise ConnectionStringError(f"{field_name}: a key is empty before '=' (at {j})", field=field_name)
        value, i = _value(text, j + 1, key, field_name)
        low = key.lower()
        if low in seen:
            raise ConnectionStringError(
                f"{field_name}: {key!r} is given twice (also as {seen[low]!r})", field=field_name
            )
        seen[low] = key
        pairs[key] = value
    return pairs


def _value(text: str, start: int, key: str, field_name: str) -> tuple[str, int]:
    """The value starting at ``start`` and the index after its terminating ``;``."""
    n = len(text)
    i = start
    while i < n and text[i] in " \t":
        i += 1
    if i < n and text[i] in "\"'":
        quote = text[i]
        out: list[str] = []
        i += 1
        while True:
            if i >= n:
                raise ConnectionStringError(
                    f"{field_name}: the value of {key!r} has no closing {quote}", field=field_name
                )
            if text[i] == quote:
                if i + 1 < n and text[i + 1] == quote:  # doubled quote = one quote
                    out.append(quote)
                    i += 2
                    continue
                i += 1
                break
            out.append(text[i])
            i += 1
        rest_end = text.find(";", i)
        rest_end = n if rest_end < 0 else rest_end
        if text[i:rest_end].strip():
            raise ConnectionStringError(
                f"{field_name}: unexpected text after the quoted value of {key!r}", field=field_name
            )
        return "".join(out), rest_end + 1
    end = text.find(";", i)
    end = n if end < 0 else end
    return text[i:end].strip(), end + 1


_NEEDS_QUOTES = re.compile(r"[;\"']|^\s|\s$")


def quote_value(value: str) -> str:
    """``value`` as it must be written in a connection string (quoted when it holds ``;``/quotes/edge
    spaces)."""
    if value == "" or not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def render(pairs: list[tuple[str, str]]) -> str:
    """``Key=Value;...`` for ``pairs`` (values quoted as needed)."""
    return ";".join(f"{k}={quote_value(v)}" for k, v in pairs)


# --------------------------------------------------------------------------------------------- secrets


def is_secret_key(name: str) -> bool:
    """Whether a connection key or extra name holds a secret (Airflow's sensitive-field rule, plus
    ``pwd`` and ``key`` material that is not a file path)."""
    low = name.lower().replace(" ", "").replace("-", "_")
    if low in ("pwd", "password", "passwd") or "password" in low or "secret" in low:
        return True
    try:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    except ImportError:  # pragma: no cover - older layout
        from airflow._shared.secrets_masker import should_hide_value_for_key
    return bool(should_hide_value_for_key(name))


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)")


def scrub_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with each of ``secrets`` and any ``scheme://user:password@`` password replaced by the mask.

    Used on driver error messages before they reach a response or a log line.
    """
    out = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def secret_values(conn: Any, extra: Mapping[str, Any]) -> list[str]:
    """The secret values of a connection (password, secret-like extras), for :func:`scrub_text`."""
    values = [str(conn.password)] if getattr(conn, "password", None) else []
    values += [str(v) for k, v in extra.items() if is_secret_key(str(k)) and isinstance(v, str | int) and v]
    return values


# ------------------------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class Provider:
    """One ProviderName: how its CData keys land in an Airflow connection.

    :param name: the ProviderName shown on the wire (``PostgreSQL``)
    :param conn_type: the Airflow connection type it is stored as
    :param keys: lower-case CData key -> connection target (``host``, ``port``, ``schema``, ``login``,
        ``password``, ``extra:<name>``, or a special ``@...`` handled by :func:`to_connection`)
    :param wire: connection target -> the CData key it is rendered as
    :param extras: extra names the engine uses, in render order
    """

    name: str
    conn_type: str
    keys: Mapping[str, str]
    wire: Mapping[str, str]
    extras: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())


_SERVER_KEYS = {
    "server": "host",
    "host": "host",
    "port": "port",
    "database": "schema",
    "initial catalog": "schema",
    "db": "schema",
    "user": "login",
    "uid": "login",
    "user id": "login",
    "username": "login",
    "password": "password",
    "pwd": "password",
}
_SERVER_WIRE = {
    "host": "Server",
    "port": "Port",
    "schema": "Database",
    "login": "User",
    "password": "Password",
}

_PG_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "application_name")
_PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_MYSQL_EXTRAS = ("charset", "ssl_ca", "ssl_cert", "ssl_key")

POSTGRES = Provider(
    name="PostgreSQL",
    conn_type="postgres",
    keys={
        **_SERVER_KEYS,
        "sslmode": "extra:sslmode",
        "usessl": "@usessl",
        "sslservercert": "@sslservercert",
        "sslrootcert": "extra:sslrootcert",
        "sslclientcert": "extra:sslcert",
        "sslcert": "extra:sslcert",
        "sslclientcertkey": "extra:sslkey",
        "sslkey": "extra:sslkey",
        "sslcrl": "extra:sslcrl",
        "application name": "extra:application_name",
        "applicationname": "extra:application_name",
        "application_name": "extra:application_name",
    },
    wire={
        **_SERVER_WIRE,
        "extra:sslmode": "SSLMode",
        "extra:sslrootcert": "SSLRootCert",
        "extra:sslcert": "SSLClientCert",
        "extra:sslkey": "SSLClientCertKey",
        "extra:sslcrl": "SSLCrl",
        "extra:application_name": "Application Name",
    },
    extras=_PG_EXTRAS,
    aliases=("postgresql", "postgres", "pgsql", "npgsql", "cdata.postgresql", "psql"),
)
MYSQL = Provider(
    name="MySQL",
    conn_type="mysql",
    keys={
        **_SERVER_KEYS,
        "charset": "extra:charset",
        "character set": "extra:charset",
        "usessl": "@usessl",
        "sslservercert": "extra:ssl_ca",
        "sslca": "extra:ssl_ca",
        "ssl_ca": "extra:ssl_ca",
        "sslclientcert": "extra:ssl_cert",
        "sslcert": "extra:ssl_cert",
        "ssl_cert": "extra:ssl_cert",
        "sslclientcertkey": "extra:ssl_key",
        "sslkey": "extra:ssl_key",
        "ssl_key": "extra:ssl_key",
    },
    wire={
        **_SERVER_WIRE,
        "extra:charset": "Charset",
        "extra:ssl_ca": "SSLServerCert",
        "extra:ssl_cert": "SSLClientCert",
        "extra:ssl_key": "SSLClientCertKey",
    },
    extras=_MYSQL_EXTRAS,
    aliases=("mysql", "cdata.mysql", "mariadb", "cdata.mariadb"),
)
SQLITE = Provider(
    name="SQLite",
    conn_type="sqlite",
    keys={"database": "host", "data source": "host", "datasource": "host", "uri": "host", "file": "host"},
    wire={"host": "Database"},
    aliases=("sqlite", "sqlite3", "cdata.sqlite", "system.data.sqlite", "microsoft.data.sqlite"),
)
#: generic SQL types: only the keys whose mapping is clear
GENERIC_KEYS = dict(_SERVER_KEYS)

PROVIDERS: tuple[Provider, ...] = (POSTGRES, MYSQL, SQLITE)
_BY_ALIAS = {alias: p for p in PROVIDERS for alias in p.aliases}
#: Airflow connection type -> provider for rendering (``mariadb`` connections made outside are MySQL too)
BY_CONN_TYPE = {
    "postgres": POSTGRES,
    "postgresql": POSTGRES,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "sqlite": SQLITE,
}


def provider_for(name: str) -> Provider | None:
    """The built-in provider a ProviderName means (case-insensitive, ``CData.`` prefix allowed), or None."""
    return _BY_ALIAS.get(name.strip().lower())


def provider_name(conn_type: str) -> str:
    """ProviderName of an Airflow connection type (``postgres`` -> ``PostgreSQL``; others as they are)."""
    provider = BY_CONN_TYPE.get(conn_type.lower())
    if provider is None:
        return conn_type
    return "MariaDB" if conn_type.lower() == "mariadb" else provider.name


# ---------------------------------------------------------------------- connection string -> connection


@dataclass
class ConnFields:
    """The Airflow connection fields a connection string sets (None = not given)."""

    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: targets sent with the mask as value: keep what is stored
    unchanged: set[str] = field(default_factory=set)

    def targets(self) -> set[str]:
        out = {t for t in ("host", "port", "schema", "login", "password") if getattr(self, t) is not None}
        return out | {f"extra:{k}" for k in self.extra}


def _bool(value: str, key: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ConnectionStringError(f"ConnectionString: {key} must be True or False, got {value!r}", field=key)


def _port(value: str, key: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConnectionStringError(
            f"ConnectionString: {key} must be a TCP port (1-65535), got {value!r}", field=key
        )
    return int(text)


def _unusable(key: str, provider: str, keys: Mapping[str, str]) -> ConnectionStringError:
    usable = sorted({k.title() if " " in k else k for k in keys if not k.startswith("@")})
    return ConnectionStringError(
        f"ConnectionString: {key!r} cannot be used for a {provider} connection (it would be stored but have "
        f"no effect); usable keys: {', '.join(usable)}",
        field=key,
    )


def to_fields(pairs: Mapping[str, str], provider: Provider | None, conn_type: str) -> ConnFields:
    """Map parsed pairs onto Airflow connection fields.

    :param pairs: from :func:`parse`
    :param provider: the built-in provider, or None for a generic SQL type
    :param conn_type: the Airflow connection type (for messages of generic types)
    :raises ConnectionStringError: naming the first key that cannot be used or has a bad value
    """
    keys = provider.keys if provider else GENERIC_KEYS
    label = provider.name if provider else conn_type
    out = ConnFields()
    specials: dict[str, tuple[str, str]] = {}
    for key, value in pairs.items():
        target = keys.get(" ".join(key.lower().split()))
        if target is None:
            raise _unusable(key, label, keys)
        if value == MASK:
            out.unchanged.add(target)
            continue
        if target.startswith("@"):
            specials[target] = (key, value)
        elif target == "port":
            out.port = _port(value, key) if value else None
        elif target.startswith("extra:"):
            name = target.removeprefix("extra:")
            if name == "sslmode" and value and value.lower() not in _PG_SSLMODES:
                raise ConnectionStringError(
                    f"ConnectionString: {key} must be one of {', '.join(_PG_SSLMODES)}, got {value!r}",
                    field=key,
                )
            out.extra[name] = value.lower() if name == "sslmode" else value
        else:
            setattr(out, target, value)
    _apply_specials(out, specials, provider)
    return out


def _apply_specials(out: ConnFields, specials: dict[str, tuple[str, str]], provider: Provider | None) -> None:
    """CData's UseSSL / SSLServerCert in the engine's terms (libpq sslmode, PyMySQL ssl_ca)."""
    if "@sslservercert" in specials:  # PostgreSQL only
        key, value = specials["@sslservercert"]
        if value.strip() == "*":  # CData: accept any server certificate
            out.extra.setdefault("sslmode", "require")
        elif value.strip():
            out.extra["sslrootcert"] = value.strip()
            out.extra.setdefault("sslmode", "verify-full")
    if "@usessl" in specials:
        key, value = specials["@usessl"]
        use = _bool(value, key)
        if provider is POSTGRES:
            out.extra.setdefault("sslmode", "require" if use else "disable")
        elif use and not out.extra.get("ssl_ca"):
            # PyMySQL uses TLS whenever the server offers it; it can be *required* only with a CA to verify
            raise ConnectionStringError(
                f"ConnectionString: {key}=True needs SSLServerCert (the CA file that verifies the server) "
                "for a MySQL/MariaDB connection; without it TLS is used whenever the server offers it",
                field=key,
            )
        elif not use:
            raise ConnectionStringError(
                f"ConnectionString: {key}=False cannot be honoured for MySQL/MariaDB (TLS is used whenever "
                "the server offers it); leave UseSSL out",
                field=key,
            )


# ---------------------------------------------------------------------- connection -> connection string


def render_connection(conn: Any, *, provider: Provider | None, extra: Mapping[str, Any]) -> str:
    """The masked CData connection string of an Airflow connection.

    Built-in providers render their mapped fields under CData key names; any other extra key follows
    under its own name. The password and every secret-like extra (:func:`is_secret_key`) are
    :data:`MASK`; so is the password part of any URL-looking value.
    """
    wire = provider.wire if provider else _SERVER_WIRE
    pairs: list[tuple[str, str]] = []
    for target in ("host", "port", "schema", "login", "password"):
        if target not in wire:
            continue
        value = getattr(conn, target, None)
        if value in (None, ""):
            continue
        pairs.append((wire[target], MASK if target == "password" else scrub_text(str(value))))
    known = set(provider.extras) if provider else set()
    for name in provider.extras if provider else ():
        if extra.get(name) not in (None, ""):
            label = wire.get(f"extra:{name}", name)
            pairs.append((label, MASK if is_secret_key(name) else _scalar(extra[name])))
    for name, value in extra.items():
        if name in known or value in (None, ""):
            continue
        pairs.append((name, MASK if is_secret_key(name) else scrub_text(_scalar(value))))
    return render(pairs)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        import json

        return json.dumps(_mask_nested(value), sort_keys=True)
    return str(value)


def _mask_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(str(k)) else _mask_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_nested(v) for v in value]
    return value

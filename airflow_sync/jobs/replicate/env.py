"""``{env:NAME}`` placeholders: values set by a PreJob event, substituted safely into queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from airflow_sync.exceptions import JobValidationError
from airflow_sync.jobs.replicate.lexer import ENV_PLACEHOLDER, QUOTES, Fail, quote_string, read_quoted
from airflow_sync.jobs.statement import Expr, ReplicateStatement, Token


def _env_value(name: str, env: Mapping[str, str], where: str) -> str:
    if name in env:
        return str(env[name])
    folded = {k.lower(): v for k, v in env.items()}
    if name.lower() in folded:
        return str(folded[name.lower()])
    prefix = f"{where}: " if where else ""
    raise JobValidationError(f"{prefix}{{env:{name}}} is not set (the PreJob event sets out.env:{name})")


def substitute_env_value(value: str, env: Mapping[str, str], *, where: str = "") -> str:
    """Replace every ``{env:NAME}`` in a plain value (a string literal's content or a text option)."""
    return ENV_PLACEHOLDER.sub(lambda m: _env_value(m.group(1), env, where), value)


def substitute_env(text: str, env: Mapping[str, str]) -> str:
    """Replace ``{env:NAME}`` placeholders in statement text with the PreJob's values, safely.

    A bare placeholder becomes a quoted string literal (``'it''s'``); one inside a string literal
    (``'{env:since}'``) becomes the escaped value inside that literal. Placeholders inside quoted identifiers
    are left alone. A value can therefore never end the literal it is in.

    :raises JobValidationError: a placeholder names a variable that is not in ``env``
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            try:
                raw, end = read_quoted(text, i, "'", "string", i)
            except Fail:  # unterminated: the parser reports it; nothing to substitute
                out.append(text[i:])
                break
            out.append(quote_string(substitute_env_value(raw, env)))
            i = end
        elif c in '["`':
            close = QUOTES[c][0]
            try:
                _, end = read_quoted(text, i, close, "identifier", i)
            except Fail:
                end = n
            out.append(text[i:end])
            i = end
        else:
            m = ENV_PLACEHOLDER.match(text, i)
            if m:
                out.append(quote_string(_env_value(m.group(1), env, "")))
                i = m.end()
            else:
                out.append(c)
                i += 1
    return "".join(out)


def substitute_env_in_statement(
    stmt: ReplicateStatement, env: Mapping[str, str], *, where: str = ""
) -> ReplicateStatement:
    """The statement with ``{env:NAME}`` replaced in its SELECT's string literals and its text options."""

    def expr(e: Expr | None) -> Expr | None:
        if e is None:
            return None
        return Expr(
            tuple(
                Token("string", substitute_env_value(t.text, env, where=where)) if t.kind == "string" else t
                for t in e.tokens
            )
        )

    select = stmt.select
    if select is not None:
        items = tuple(replace(item, expr=expr(item.expr)) for item in select.items)
        select = replace(select, items=items, where=expr(select.where))
    opts = {
        k: substitute_env_value(v, env, where=where) if isinstance(v, str) else v
        for k, v in stmt.options.items()
    }
    return replace(stmt, select=select, options=opts)

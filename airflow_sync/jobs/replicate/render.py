"""Canonical text of statements and expressions, dialect rendering, and query-text normalisation."""

from __future__ import annotations

from airflow_sync.exceptions import ReplicateSyntaxError
from airflow_sync.jobs.replicate.lexer import (
    QUOTES,
    RESERVED,
    WORD,
    Fail,
    format_table,
    quote_ident,
    quote_string,
    read_quoted,
)
from airflow_sync.jobs.replicate.parser import parse_replicate
from airflow_sync.statement import Expr, OptionValue, ReplicateStatement, render_expr


def format_expr(expr: Expr) -> str:
    """Canonical text of an expression (identifiers in brackets)."""
    return render_expr(expr, quote_ident, quote_string)


def _format_option(name: str, value: OptionValue) -> str:
    if isinstance(value, bool):
        return name if value else f"{name}=false"
    if isinstance(value, int | float):
        return f"{name}={value}"
    return f"{name}={quote_string(value)}"


def format_replicate(stmt: ReplicateStatement) -> str:
    """Canonical text of a statement; ``parse_replicate(format_replicate(s))`` equals ``s`` (but ``text``)."""
    parts = ["REPLICATE", format_table(stmt.target)]
    if stmt.columns:
        defs = [f"{quote_ident(c.name)} {c.type_sql}" for c in stmt.columns]
        if stmt.primary_key:
            defs.append("PRIMARY KEY (" + ", ".join(quote_ident(k) for k in stmt.primary_key) + ")")
        parts.append("(" + ", ".join(defs) + ")")
    if stmt.options:
        parts.append("WITH " + ", ".join(_format_option(k, v) for k, v in stmt.options.items()))
    if stmt.select is not None:
        items = []
        for item in stmt.select.items:
            if item.star or item.expr is None:
                items.append("*")
            else:
                alias = f" AS {quote_ident(item.alias)}" if item.alias else ""
                items.append(format_expr(item.expr) + alias)
        parts.append("SELECT " + ", ".join(items) + " FROM " + format_table(stmt.select.source))
        if stmt.select.where is not None:
            parts.append("WHERE " + format_expr(stmt.select.where))
    return " ".join(parts)


def normalize_query_text(text: str) -> str:
    """A form of a query for equality tests (executeQuery): same statement, same text.

    A statement that parses is normalised to its canonical :func:`format_replicate` text (so spacing, keyword
    case, identifier quoting, option-name case and a trailing ``;`` do not matter). Text that does not parse
    is stripped of a trailing ``;``, has whitespace outside quotes collapsed and SQL keywords upper-cased.
    """
    try:
        return format_replicate(parse_replicate(text))
    except ReplicateSyntaxError:
        pass
    body = text.strip().rstrip(";").strip()
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in QUOTES:
            try:
                _, end = read_quoted(body, i, QUOTES[c][0], "", i)
            except Fail:
                end = n
            out.append(body[i:end])
            i = end
        elif c.isspace():
            while i < n and body[i].isspace():
                i += 1
            out.append(" ")
        elif m := WORD.match(body, i):
            word = m.group()
            out.append(word.upper() if word.upper() in RESERVED else word)
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)

"""``REPLICATE`` statements (``spec/replicate-sql.md`` §1): lexer, recursive-descent parser, formatter.

Modules: :mod:`.lexer` (tokens, quoting), :mod:`.expressions` (select items and WHERE), :mod:`.parser`
(statement rules and the public parse functions), :mod:`.env` (``{env:NAME}``), :mod:`.render` (canonical
text, dialect rendering, normalisation). Import from this package, not from the modules.

Choices worth knowing:

- Identifiers: bare words, ``[...]`` (``]]`` inside stands for ``]``, SQL Server style), ``"..."`` (``""``)
  and ```...``` (doubled backtick). :func:`format_replicate` always writes ``[...]``.
- Comments (``--``, ``/* */``) are rejected outside string literals, and ``;`` may only end the statement,
  so no second statement can hide in a query.
- A user SELECT reads ONE table. Column qualifiers (``s.Id``, ``dbo.Orders.Id``) must name that table or its
  alias and are then dropped, as is the alias: expressions are stored unqualified, so the engine never needs
  the alias.
- Bare words in expressions: SQL keywords, function names (a word followed by ``(``) and the type names of
  ``CAST(x AS type)`` are stored as upper-cased ``keyword`` tokens (unquoted SQL names are case-insensitive);
  every other bare word is a column (``ident``, case kept) that the engine quotes.
- ``{env:NAME}`` placeholders (set by a PreJob event) may stand wherever a literal may. Before the value is
  known they are stored as the string literal ``'{env:NAME}'``, which means the same thing: at run time
  :func:`substitute_env` replaces a bare placeholder by a quoted literal and a placeholder inside a string
  literal by the escaped value.
"""

from __future__ import annotations

from airflow_sync.jobs.replicate.env import (
    substitute_env,
    substitute_env_in_statement,
    substitute_env_value,
)
from airflow_sync.jobs.replicate.lexer import ENV_PLACEHOLDER, RESERVED, quote_ident, quote_string
from airflow_sync.jobs.replicate.parser import parse_option_assignments, parse_replicate, split_name_list
from airflow_sync.jobs.replicate.render import (
    format_expr,
    format_replicate,
    normalize_query_text,
    render_expr,
)

__all__ = [
    "ENV_PLACEHOLDER",
    "RESERVED",
    "format_expr",
    "format_replicate",
    "normalize_query_text",
    "parse_option_assignments",
    "parse_replicate",
    "quote_ident",
    "quote_string",
    "render_expr",
    "split_name_list",
    "substitute_env",
    "substitute_env_in_statement",
    "substitute_env_value",
]

"""Typed form of a parsed ``REPLICATE`` statement (see ``spec/replicate-sql.md`` §1).

The one model module shared by the job side (the parser :mod:`airflow_sync.jobs.replicate`, the DAG factory)
and the engine, which imports nothing from ``airflow_sync.jobs``: the types and their dialect rendering live
here, below both. Nothing here imports Airflow. Identifiers are stored *unquoted* (their real names, case
kept); SQL fragments of a user SELECT (expressions, WHERE) are stored as token sequences so that the engine
re-renders every identifier with the target dialect's quoting and every string literal safely — user text
is never pasted into SQL as-is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

TokenKind = Literal["ident", "string", "number", "keyword", "op", "punct"]


@dataclass(frozen=True)
class Token:
    """One lexical token of a SQL expression.

    ``ident``: an identifier, ``text`` holds the unquoted name; ``string``: a string literal, ``text``
    holds the unescaped value; ``number``/``keyword``/``op``/``punct``: ``text`` is the literal SQL text
    (keywords upper-cased), e.g. ``42``, ``AND``, ``>=``, ``(``, ``,``, ``.``.
    """

    kind: TokenKind
    text: str


@dataclass(frozen=True)
class Expr:
    """A SQL expression (or WHERE condition) as tokens; render it for one dialect with :meth:`render`."""

    tokens: tuple[Token, ...]

    def render(
        self, quote_ident: Callable[[str], str], quote_string: Callable[[str], str] | None = None
    ) -> str:
        """SQL text with identifiers quoted by ``quote_ident`` and strings by ``quote_string`` (see
        :func:`render_expr`)."""
        return render_expr(self, quote_ident, quote_string or sql_string)

    @property
    def column(self) -> str | None:
        """The column name when the expression is a bare (optionally qualified) column reference."""
        idents = [t for t in self.tokens if t.kind == "ident"]
        if idents and all(t.kind == "ident" or (t.kind == "punct" and t.text == ".") for t in self.tokens):
            return idents[-1].text
        return None


@dataclass(frozen=True)
class TableRef:
    """A table name with up to two qualifiers.

    ``(table,)``, ``(schema, table)`` or ``(catalog, schema, table)``.
    """

    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def schema(self) -> str | None:
        return self.parts[-2] if len(self.parts) >= 2 else None


@dataclass(frozen=True)
class ColumnDef:
    """An explicit destination column: ``[Name] VARCHAR(255)``; ``type_sql`` is the type text as written."""

    name: str
    type_sql: str


@dataclass(frozen=True)
class SelectItem:
    """One item of the SELECT list. ``star`` is True for ``*``; ``alias`` is the AS name if given."""

    expr: Expr | None
    alias: str | None = None
    star: bool = False

    @property
    def output_name(self) -> str | None:
        """Name of the produced column: the alias, else the bare column name, else None."""
        return self.alias or (self.expr.column if self.expr is not None else None)


@dataclass(frozen=True)
class SelectClause:
    """``SELECT items FROM source [WHERE where]`` over exactly one source table."""

    items: tuple[SelectItem, ...]
    source: TableRef
    where: Expr | None = None

    @property
    def is_star(self) -> bool:
        return len(self.items) == 1 and self.items[0].star


OptionValue = str | int | float | bool


@dataclass(frozen=True)
class ReplicateStatement:
    """A parsed ``REPLICATE`` statement.

    :param target: destination table as written (with no SELECT also the source table)
    :param columns: explicit column definitions (may be empty)
    :param primary_key: explicit ``PRIMARY KEY (...)`` columns (may be empty)
    :param options: ``WITH`` options, keys in their canonical spelling (see :mod:`airflow_sync.jobs.options`),
        values coerced to the option's type
    :param select: the user SELECT, or None for ``REPLICATE [Table]``
    :param text: the original statement text
    """

    target: TableRef
    columns: tuple[ColumnDef, ...] = ()
    primary_key: tuple[str, ...] = ()
    options: dict[str, OptionValue] = field(default_factory=dict)
    select: SelectClause | None = None
    text: str = ""

    @property
    def source(self) -> TableRef:
        """The source table: the SELECT's FROM, else the target itself."""
        return self.select.source if self.select is not None else self.target

    @property
    def implicit_name(self) -> bool:
        """True when the destination is named implicitly (``REPLICATE [T]`` → TableNamePrefix applies)."""
        return self.select is None


def sql_string(value: str) -> str:
    """A standard SQL string literal (``'`` doubled)."""
    return "'" + value.replace("'", "''") + "'"


_SPACED_BEFORE_PAREN = frozenset(
    {
        "AND",
        "OR",
        "NOT",
        "IN",
        "IS",
        "WHEN",
        "THEN",
        "ELSE",
        "CASE",
        "AS",
        "BETWEEN",
        "LIKE",
        "ILIKE",
        "ESCAPE",
        "FROM",
        "DISTINCT",
    }
)


def render_expr(
    expr: Expr, quote_ident: Callable[[str], str], quote_string: Callable[[str], str] = sql_string
) -> str:
    """SQL text of an expression for one dialect, with function calls written ``NAME(`` — MySQL/MariaDB
    reject a space there for built-ins such as ``NOW``, ``COUNT``, ``CAST``.

    :param expr: a parsed expression
    :param quote_ident: the dialect's identifier quoting
    :param quote_string: the dialect's string-literal quoting
    """
    out: list[str] = []
    prev: Token | None = None
    for tok in expr.tokens:
        if tok.kind == "ident":
            text = quote_ident(tok.text)
        elif tok.kind == "string":
            text = quote_string(tok.text)
        else:
            text = tok.text
        if prev is not None:
            tight = (
                (tok.kind == "punct" and tok.text in ",)")
                or (prev.kind == "punct" and prev.text == "(")
                or (
                    tok.kind == "punct"
                    and tok.text == "("
                    and prev.kind in ("keyword", "ident")
                    and prev.text not in _SPACED_BEFORE_PAREN
                )
            )
            if not tight:
                out.append(" ")
        out.append(text)
        prev = tok
    return "".join(out)

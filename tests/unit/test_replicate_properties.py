"""Property tests of the REPLICATE parser: format/parse round trip over generated statements, and fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_sync.exceptions import JobValidationError, ReplicateSyntaxError
from airflow_sync.jobs.options import INTERVAL_UNITS, OPTIONS
from airflow_sync.jobs.replicate import (
    format_replicate,
    normalize_query_text,
    parse_replicate,
    substitute_env,
)
from airflow_sync.jobs.statement import (
    ColumnDef,
    Expr,
    OptionValue,
    ReplicateStatement,
    SelectClause,
    SelectItem,
    TableRef,
    Token,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- generators of valid statements -------------------------------------------------------------------------

_chars = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
identifiers = st.one_of(
    st.text(_chars, min_size=1, max_size=12),
    st.sampled_from(
        [
            "Order",
            "SELECT",
            "a.b",
            "x]y",
            "]]",
            "[",
            'q"t',
            "`",
            "sp ace",
            "日本語",
            "Ünïcödé",
            "{env:x}",
            "--",
            "/*",
            ";",
            "'",
            "a,b",
            " lead",
            "trail ",
            "Id",
        ]
    ),
)
type_sqls = st.sampled_from(
    [
        "INT",
        "VARCHAR(255)",
        "NUMERIC(10, 2)",
        "DOUBLE PRECISION",
        "timestamp(3) with time zone",
        "text NOT NULL",
        "enum('a', 'b''c')",
        "bigint",
    ]
)


def t(kind: str, text: str) -> tuple[Token, ...]:
    return (Token(kind, text),)  # type: ignore[arg-type]


def joined(parts: list[tuple[Token, ...]], sep: Token) -> tuple[Token, ...]:
    out: list[Token] = []
    for index, part in enumerate(parts):
        if index:
            out.append(sep)
        out.extend(part)
    return tuple(out)


P = lambda text: Token("punct", text)  # noqa: E731
K = lambda text: Token("keyword", text)  # noqa: E731

numbers = st.one_of(
    st.integers(0, 10**12).map(str), st.sampled_from(["1.5", "0.25", "1e3", "2.", ".5", "6.02E23"])
)
literals = st.one_of(
    identifiers.map(lambda x: t("ident", x)),
    numbers.map(lambda x: t("number", x)),
    st.text(_chars, max_size=10).map(lambda x: t("string", x)),
    st.sampled_from(["NULL", "TRUE", "FALSE", "CURRENT_TIMESTAMP"]).map(lambda x: t("keyword", x)),
    st.sampled_from(["since", "Start.Value"]).map(lambda x: t("string", "{env:" + x + "}")),
)


def _value_children(children: st.SearchStrategy[tuple[Token, ...]]) -> st.SearchStrategy[tuple[Token, ...]]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%", "||"]), children).map(
            lambda x: (*x[0], Token("op", x[1]), *x[2])
        ),
        children.map(lambda x: (Token("op", "-"), *x)),
        children.map(lambda x: (P("("), *x, P(")"))),
        st.tuples(
            st.sampled_from(["CONCAT", "COALESCE", "UPPER", "MY_FN", "LEFT"]),
            st.lists(children, min_size=1, max_size=3),
        ).map(lambda x: (K(x[0]), P("("), *joined(x[1], P(",")), P(")"))),
        st.just((K("COUNT"), P("("), Token("op", "*"), P(")"))),
        st.just((K("NOW"), P("("), P(")"))),
        children.map(
            lambda x: (
                K("CAST"),
                P("("),
                *x,
                K("AS"),
                K("VARCHAR"),
                P("("),
                Token("number", "10"),
                P(")"),
                P(")"),
            )
        ),
        children.map(lambda x: (K("CAST"), P("("), *x, K("AS"), K("DOUBLE"), K("PRECISION"), P(")"))),
        st.tuples(children, children, children).map(
            lambda x: (K("CASE"), K("WHEN"), *x[0], Token("op", "="), *x[1], K("THEN"), *x[2], K("END"))
        ),
        children.map(lambda x: (K("EXTRACT"), P("("), K("YEAR"), K("FROM"), *x, P(")"))),
    )


values = st.recursive(literals, _value_children, max_leaves=8)

predicates = st.one_of(
    st.tuples(values, st.sampled_from(["=", "<>", "!=", "<", ">", "<=", ">="]), values).map(
        lambda x: (*x[0], Token("op", x[1]), *x[2])
    ),
    st.tuples(values, st.booleans()).map(
        lambda x: (*x[0], K("IS"), *((K("NOT"),) if x[1] else ()), K("NULL"))
    ),
    st.tuples(values, st.booleans(), st.lists(values, min_size=1, max_size=3)).map(
        lambda x: (*x[0], *((K("NOT"),) if x[1] else ()), K("IN"), P("("), *joined(x[2], P(",")), P(")"))
    ),
    st.tuples(values, values, values).map(lambda x: (*x[0], K("BETWEEN"), *x[1], K("AND"), *x[2])),
    st.tuples(values, values).map(lambda x: (*x[0], K("LIKE"), *x[1])),
)


def _condition_children(
    children: st.SearchStrategy[tuple[Token, ...]],
) -> st.SearchStrategy[tuple[Token, ...]]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["AND", "OR"]), children).map(lambda x: (*x[0], K(x[1]), *x[2])),
        children.map(lambda x: (K("NOT"), *x)),
        children.map(lambda x: (P("("), *x, P(")"))),
    )


conditions = st.recursive(predicates, _condition_children, max_leaves=5)

table_refs = st.lists(identifiers, min_size=1, max_size=3).map(lambda parts: TableRef(tuple(parts)))
name_lists = st.lists(identifiers, min_size=1, max_size=3).map(
    lambda names: ", ".join("[" + n.replace("]", "]]") + "]" for n in names)
)


def _option_value(name: str) -> st.SearchStrategy[OptionValue]:
    spec = OPTIONS[name]
    if spec.type is bool:
        return st.booleans()
    if spec.type is int:
        return st.integers(1, 10**9)
    if isinstance(spec.type, tuple):
        return st.sampled_from(spec.type)
    if name == "ReplicateStartDate":
        return st.sampled_from(["2024-01-31", "2024-02-29 10:30", "1999-12-31 23:59:59", "{env:start}", ""])
    if name in ("PrimaryKey", "IncrementalCheckColumns"):
        return name_lists
    return st.text(_chars, max_size=10)


option_dicts = st.lists(st.sampled_from(list(OPTIONS)), unique=True, max_size=5).flatmap(
    lambda names: st.fixed_dictionaries({name: _option_value(name) for name in names})
)


@st.composite
def column_lists(draw: st.DrawFn) -> tuple[tuple[ColumnDef, ...], tuple[str, ...]]:
    names = draw(st.lists(identifiers, max_size=4, unique_by=str.lower))
    columns = tuple(ColumnDef(name, draw(type_sqls)) for name in names)
    key = tuple(draw(st.lists(st.sampled_from(names), unique=True, max_size=2))) if names else ()
    return columns, key


select_items = st.one_of(
    st.just(SelectItem(None, star=True)),
    st.tuples(st.one_of(values, conditions), st.one_of(st.none(), identifiers)).map(
        lambda x: SelectItem(Expr(x[0]), x[1])
    ),
)
selects = st.builds(
    SelectClause,
    items=st.lists(select_items, min_size=1, max_size=4).map(tuple),
    source=table_refs,
    where=st.one_of(st.none(), conditions.map(Expr)),
)


@st.composite
def statements(draw: st.DrawFn) -> ReplicateStatement:
    columns, key = draw(column_lists())
    return ReplicateStatement(
        target=draw(table_refs),
        columns=columns,
        primary_key=key,
        options=draw(option_dicts),
        select=draw(st.one_of(st.none(), selects)),
    )


@SETTINGS
@given(statements())
def test_parse_of_format_is_identity(stmt: ReplicateStatement) -> None:
    text = format_replicate(stmt)
    parsed = parse_replicate(text)
    assert parsed == dataclasses.replace(stmt, text=text)
    assert normalize_query_text(text) == text
    assert normalize_query_text(text.lower() if text.isascii() else text) is not None


# --- fuzzing ------------------------------------------------------------------------------------------------

_SQL_BITS = [
    "'",
    '"',
    "[",
    "]",
    "`",
    "(",
    ")",
    ",",
    ".",
    ";",
    "--",
    "/*",
    "*",
    "=",
    " ",
    "\n",
    "{env:x}",
    "{",
    "SELECT",
    "FROM",
    "WHERE",
    "WITH",
    "AS",
    "AND",
    "NOT",
    "IN",
    "CASE",
    "END",
    "CAST",
    "PRIMARY KEY",
    "JOIN",
    "\x00",
    "é",
    "0",
    "1.5e",
    "-",
    "||",
]


def _check_no_other_exception(text: str) -> None:
    try:
        stmt = parse_replicate(text, query_number=1)
    except ReplicateSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.field == "Query#1"
        return
    # whatever parses survives a format round trip
    formatted = format_replicate(stmt)
    assert parse_replicate(formatted) == dataclasses.replace(stmt, text=formatted)
    normalize_query_text(text)
    with contextlib.suppress(JobValidationError):
        substitute_env(text, {"x": "it's"})


@SETTINGS
@given(st.text(max_size=80))
def test_random_text_raises_only_syntax_errors(text: str) -> None:
    _check_no_other_exception(text)
    _check_no_other_exception("REPLICATE " + text)
    _check_no_other_exception("REPLICATE a SELECT " + text)
    normalize_query_text(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = format_replicate(draw(statements()))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate"]))
        if action == "delete":
            end = draw(st.integers(pos, min(len(text), pos + 8)))
            text = text[:pos] + text[end:]
        elif action == "insert":
            text = text[:pos] + draw(st.sampled_from(_SQL_BITS)) + text[pos:]
        elif action == "duplicate":
            end = draw(st.integers(pos, min(len(text), pos + 12)))
            text = text[:end] + text[pos:end] + text[end:]
        else:
            text = text[:pos]
    return text


@SETTINGS
@given(mutated())
def test_mutated_statements_raise_only_syntax_errors(text: str) -> None:
    _check_no_other_exception(text)


@SETTINGS
@given(st.text(_chars, max_size=30), st.sampled_from(["bare", "quoted", "inside"]))
def test_env_values_never_escape_their_literal(value: str, form: str) -> None:
    placeholder = {"bare": "{env:v}", "quoted": "'{env:v}'", "inside": "'<{env:v}>'"}[form]
    text = f"REPLICATE a SELECT * FROM b WHERE x = {placeholder} AND y IS NULL"
    stmt = parse_replicate(substitute_env(text, {"v": value}))
    assert stmt.select is not None and stmt.select.where is not None
    expected = f"<{value}>" if form == "inside" else value
    assert stmt.select.where.tokens == (
        Token("ident", "x"),
        Token("op", "="),
        Token("string", expected),
        Token("keyword", "AND"),
        Token("ident", "y"),
        Token("keyword", "IS"),
        Token("keyword", "NULL"),
    )


def test_interval_units_are_the_spec_list() -> None:
    assert INTERVAL_UNITS == ("minutes", "hours", "days", "weeks", "months", "years")

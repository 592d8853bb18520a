"""REPLICATE parser: valid statements -> typed results, invalid ones -> message and position."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_sync.exceptions import JobValidationError, ReplicateSyntaxError
from airflow_sync.jobs.replicate import (
    format_replicate,
    normalize_query_text,
    parse_replicate,
    render_expr,
    split_name_list,
    substitute_env,
)
from airflow_sync.jobs.statement import ColumnDef, Expr, SelectItem, TableRef, Token


def i(name: str) -> Token:
    return Token("ident", name)


def k(word: str) -> Token:
    return Token("keyword", word)


def s(value: str) -> Token:
    return Token("string", value)


def n(text: str) -> Token:
    return Token("number", text)


def o(text: str) -> Token:
    return Token("op", text)


def p(text: str) -> Token:
    return Token("punct", text)


def col(name: str, alias: str | None = None) -> SelectItem:
    return SelectItem(Expr((i(name),)), alias)


STAR = SelectItem(None, star=True)


# --- targets, identifiers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("REPLICATE [Account]", ("Account",)),
        ("replicate Account", ("Account",)),
        ("RePlIcAtE   \n\t Account  ;  ", ("Account",)),
        ('REPLICATE "My Table"', ("My Table",)),
        ('REPLICATE "a""b"', ('a"b',)),
        ("REPLICATE `x``y`", ("x`y",)),
        ("REPLICATE [a]]b]", ("a]b",)),
        ("REPLICATE [Account.csv]", ("Account.csv",)),
        ("REPLICATE [Order]", ("Order",)),
        ("REPLICATE dbo.Orders", ("dbo", "Orders")),
        ("REPLICATE [cat].[dbo].[Orders]", ("cat", "dbo", "Orders")),
        ("REPLICATE dbo.[Order]", ("dbo", "Order")),
        ("REPLICATE dbo.Order", ("dbo", "Order")),
        ("REPLICATE Über_Tabelle", ("Über_Tabelle",)),
        ("REPLICATE [日本 語]", ("日本 語",)),
        ("REPLICATE [ ]", (" ",)),
    ],
)
def test_target_identifiers(text: str, parts: tuple[str, ...]) -> None:
    stmt = parse_replicate(text)
    assert stmt.target == TableRef(parts)
    assert stmt.source == stmt.target
    assert stmt.implicit_name
    assert stmt.select is None and stmt.columns == () and stmt.options == {}
    assert stmt.text == text


def test_identifier_case_is_kept_and_keywords_are_not() -> None:
    stmt = parse_replicate(
        "replicate MyTable with droptable select MyCol from OtherTable where MyCol is null"
    )
    assert stmt.target.parts == ("MyTable",)
    assert stmt.options == {"DropTable": True}
    assert stmt.select is not None
    assert stmt.select.items == (col("MyCol"),)
    assert stmt.select.where == Expr((i("MyCol"), k("IS"), k("NULL")))
    assert not stmt.implicit_name


# --- column lists -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "columns", "key"),
    [
        (
            "REPLICATE [T] ([Id] INT, [Name] VARCHAR(255), PRIMARY KEY ([Id]))",
            (ColumnDef("Id", "INT"), ColumnDef("Name", "VARCHAR(255)")),
            ("Id",),
        ),
        (
            "REPLICATE T (a DOUBLE   PRECISION, b NUMERIC ( 10 ,2 ), c timestamp(3) with time zone)",
            (
                ColumnDef("a", "DOUBLE PRECISION"),
                ColumnDef("b", "NUMERIC(10, 2)"),
                ColumnDef("c", "timestamp(3) with time zone"),
            ),
            (),
        ),
        (
            "REPLICATE T (Id int primary key, x text)",
            (ColumnDef("Id", "int"), ColumnDef("x", "text")),
            ("Id",),
        ),
        (
            "REPLICATE T (a int, b int, PRIMARY KEY(a, b))",
            (ColumnDef("a", "int"), ColumnDef("b", "int")),
            ("a", "b"),
        ),
        ("REPLICATE T ([x y] enum('a','it''s'))", (ColumnDef("x y", "enum('a', 'it''s')"),), ()),
        ("REPLICATE T (a int NOT NULL)", (ColumnDef("a", "int NOT NULL"),), ()),
    ],
)
def test_column_lists(text: str, columns: tuple[ColumnDef, ...], key: tuple[str, ...]) -> None:
    stmt = parse_replicate(text)
    assert stmt.columns == columns
    assert stmt.primary_key == key


# --- options ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("with_text", "expected"),
    [
        ("DropTable", {"DropTable": True}),
        ("droptable = FALSE", {"DropTable": False}),
        ("TruncateTable=true, AlterSchema=false", {"TruncateTable": True, "AlterSchema": False}),
        ("TruncateTableData", {"TruncateTable": True}),
        ("BatchSize=500, CommandTimeout='30'", {"BatchSize": 500, "CommandTimeout": 30}),
        ("IncrementalCheckColumns='updated,modified'", {"IncrementalCheckColumns": "updated,modified"}),
        ("IncrementalCheckColumns=updated_at", {"IncrementalCheckColumns": "updated_at"}),
        ("PrimaryKey='[Order Id], Line'", {"PrimaryKey": "[Order Id], Line"}),
        (
            "ReplicateIntervalUnit=Hours, ReplicateInterval=6",
            {"ReplicateIntervalUnit": "hours", "ReplicateInterval": 6},
        ),
        ("ReplicateStartDate='2024-01-31 10:30'", {"ReplicateStartDate": "2024-01-31 10:30"}),
        ("ReplicateStartDate={env:start}", {"ReplicateStartDate": "{env:start}"}),
        (
            "CacheSchema=[my schema], TableNamePrefix='stg_'",
            {"CacheSchema": "my schema", "TableNamePrefix": "stg_"},
        ),
        (
            "MaxLastModTimeOffset=0, MinLastModTimeOffset=60",
            {"MaxLastModTimeOffset": 0, "MinLastModTimeOffset": 60},
        ),
        ("DeleteDetection=KEYS, SkipDeleted=1", {"DeleteDetection": "keys", "SkipDeleted": True}),
        (
            "UseGmtDateTime=yes, AutoTruncateStrings=off",
            {"UseGmtDateTime": True, "AutoTruncateStrings": False},
        ),
    ],
)
def test_with_options(with_text: str, expected: dict[str, object]) -> None:
    assert parse_replicate(f"REPLICATE [T] WITH {with_text}").options == expected
    # options work the same before a SELECT
    stmt = parse_replicate(f"REPLICATE [T] WITH {with_text} SELECT * FROM [S]")
    assert stmt.options == expected
    assert stmt.select is not None and stmt.select.source == TableRef(("S",))


# --- SELECT -------------------------------------------------------------------------------------------------


def test_documented_examples() -> None:
    stmt = parse_replicate(
        "REPLICATE [REP_Contacts] SELECT DateModified,\n"
        "       CONCAT(FirstName,' ',LastName) AS FullName\n"
        "  FROM [Contacts] WHERE FirstName LIKE '%Tim%'"
    )
    assert stmt.target == TableRef(("REP_Contacts",))
    assert stmt.select is not None
    assert stmt.select.source == TableRef(("Contacts",))
    assert stmt.select.items == (
        col("DateModified"),
        SelectItem(
            Expr((k("CONCAT"), p("("), i("FirstName"), p(","), s(" "), p(","), i("LastName"), p(")"))),
            "FullName",
        ),
    )
    assert [item.output_name for item in stmt.select.items] == ["DateModified", "FullName"]
    assert stmt.select.where == Expr((i("FirstName"), k("LIKE"), s("%Tim%")))

    stmt = parse_replicate(
        "REPLICATE [Orders_small] (Id int, Total decimal, PRIMARY KEY(Id)) SELECT Id, Total FROM [Orders]"
    )
    assert stmt.primary_key == ("Id",)
    assert stmt.select is not None and stmt.select.items == (col("Id"), col("Total"))


@pytest.mark.parametrize(
    ("select", "items"),
    [
        ("*", (STAR,)),
        ("s.*", (STAR,)),
        ("*, a", (STAR, col("a"))),
        ('a b, c AS [d e], [f] "g"', (col("a", "b"), col("c", "d e"), col("f", "g"))),
        ("s.a, [dbo].[Src].b, Src.c", (col("a"), col("b"), col("c"))),
        ("a + 1 AS x", (SelectItem(Expr((i("a"), o("+"), n("1"))), "x"),)),
        (
            "-a * (b - 2.5) % 3",
            (
                SelectItem(
                    Expr((o("-"), i("a"), o("*"), p("("), i("b"), o("-"), n("2.5"), p(")"), o("%"), n("3")))
                ),
            ),
        ),
        ("a || 'x'", (SelectItem(Expr((i("a"), o("||"), s("x")))),)),
        (
            "CAST(a AS varchar(10)) v",
            (
                SelectItem(
                    Expr((k("CAST"), p("("), i("a"), k("AS"), k("VARCHAR"), p("("), n("10"), p(")"), p(")"))),
                    "v",
                ),
            ),
        ),
        (
            "CAST(a AS double precision)",
            (SelectItem(Expr((k("CAST"), p("("), i("a"), k("AS"), k("DOUBLE"), k("PRECISION"), p(")")))),),
        ),
        (
            "CASE WHEN a > 0 THEN 'p' WHEN a < 0 THEN 'n' ELSE NULL END AS sign",
            (
                SelectItem(
                    Expr(
                        (
                            k("CASE"),
                            k("WHEN"),
                            i("a"),
                            o(">"),
                            n("0"),
                            k("THEN"),
                            s("p"),
                            k("WHEN"),
                            i("a"),
                            o("<"),
                            n("0"),
                            k("THEN"),
                            s("n"),
                            k("ELSE"),
                            k("NULL"),
                            k("END"),
                        )
                    ),
                    "sign",
                ),
            ),
        ),
        (
            "case a when 1 then 2 end",
            (SelectItem(Expr((k("CASE"), i("a"), k("WHEN"), n("1"), k("THEN"), n("2"), k("END")))),),
        ),
        (
            "coalesce(a, 0), now(), count(*)",
            (
                SelectItem(Expr((k("COALESCE"), p("("), i("a"), p(","), n("0"), p(")")))),
                SelectItem(Expr((k("NOW"), p("("), p(")")))),
                SelectItem(Expr((k("COUNT"), p("("), o("*"), p(")")))),
            ),
        ),
        ("LEFT(a, 3)", (SelectItem(Expr((k("LEFT"), p("("), i("a"), p(","), n("3"), p(")")))),)),
        (
            "EXTRACT(year FROM d) y",
            (SelectItem(Expr((k("EXTRACT"), p("("), k("YEAR"), k("FROM"), i("d"), p(")"))), "y"),),
        ),
        (
            "CURRENT_TIMESTAMP AS now, DATE '2024-01-01' d",
            (
                SelectItem(Expr((k("CURRENT_TIMESTAMP"),)), "now"),
                SelectItem(Expr((k("DATE"), s("2024-01-01"))), "d"),
            ),
        ),
        (
            "N'ünï', 'it''s', 1e3",
            (SelectItem(Expr((s("ünï"),))), SelectItem(Expr((s("it's"),))), SelectItem(Expr((n("1e3"),)))),
        ),
        ("{env:since} AS s", (SelectItem(Expr((s("{env:since}"),)), "s"),)),
    ],
)
def test_select_items(select: str, items: tuple[SelectItem, ...]) -> None:
    stmt = parse_replicate(f"REPLICATE [D] SELECT {select} FROM [dbo].[Src] s")
    assert stmt.select is not None
    assert stmt.select.items == items
    assert stmt.select.source == TableRef(("dbo", "Src"))


@pytest.mark.parametrize(
    ("where", "tokens"),
    [
        ("a = 1", (i("a"), o("="), n("1"))),
        (
            "a <> 'x' AND NOT (b >= 2 OR c != 3)",
            (
                i("a"),
                o("<>"),
                s("x"),
                k("AND"),
                k("NOT"),
                p("("),
                i("b"),
                o(">="),
                n("2"),
                k("OR"),
                i("c"),
                o("!="),
                n("3"),
                p(")"),
            ),
        ),
        ("a IN (1, 2, 3)", (i("a"), k("IN"), p("("), n("1"), p(","), n("2"), p(","), n("3"), p(")"))),
        ("a not in ('x')", (i("a"), k("NOT"), k("IN"), p("("), s("x"), p(")"))),
        ("a IS NOT NULL", (i("a"), k("IS"), k("NOT"), k("NULL"))),
        ("a BETWEEN 1 AND 2 AND b", (i("a"), k("BETWEEN"), n("1"), k("AND"), n("2"), k("AND"), i("b"))),
        ("a NOT BETWEEN 1 AND 2", (i("a"), k("NOT"), k("BETWEEN"), n("1"), k("AND"), n("2"))),
        ("name LIKE 'a!%%' ESCAPE '!'", (i("name"), k("LIKE"), s("a!%%"), k("ESCAPE"), s("!"))),
        ("lower(name) like '%tim%'", (k("LOWER"), p("("), i("name"), p(")"), k("LIKE"), s("%tim%"))),
        ("updated > {env:since}", (i("updated"), o(">"), s("{env:since}"))),
        ("updated > '{env:since}'", (i("updated"), o(">"), s("{env:since}"))),
        ("s.a = Src.b", (i("a"), o("="), i("b"))),
        (
            "flag = TRUE or flag is false",
            (i("flag"), o("="), k("TRUE"), k("OR"), i("flag"), k("IS"), k("FALSE")),
        ),
    ],
)
def test_where(where: str, tokens: tuple[Token, ...]) -> None:
    stmt = parse_replicate(f"REPLICATE [D] SELECT * FROM Src s WHERE {where};")
    assert stmt.select is not None
    assert stmt.select.where == Expr(tokens)


def test_where_renders_for_a_dialect_with_its_quoting() -> None:
    stmt = parse_replicate("REPLICATE [D] SELECT * FROM [S] WHERE [Na\"me] = 'O''Brien' AND [x] IN (1, 2)")
    assert stmt.select is not None and stmt.select.where is not None
    sql = stmt.select.where.render(lambda name: '"' + name.replace('"', '""') + '"')
    assert sql == '"Na""me" = \'O\'\'Brien\' AND "x" IN (1, 2)'


def test_as_before_select_and_target_differs_from_source() -> None:
    stmt = parse_replicate("REPLICATE [sf_account] AS SELECT * FROM [Account]")
    assert stmt.target == TableRef(("sf_account",))
    assert stmt.source == TableRef(("Account",))
    assert not stmt.implicit_name
    assert stmt.select is not None and stmt.select.is_star


# --- invalid statements -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "expected REPLICATE, found end of input", 0),
        ("SELECT * FROM x", "expected REPLICATE, found keyword SELECT", 0),
        ("REPLICATE", "expected table name after REPLICATE, found end of input", 9),
        ("REPLICATE   ;", "expected table name after REPLICATE, found ';'", 12),
        ("REPLICATE WITH DropTable", "expected table name after REPLICATE, found keyword WITH", 10),
        ("REPLICATE Order", "put reserved words in brackets: [Order]", 10),
        ("REPLICATE [a", "unterminated identifier (missing ])", 10),
        ("REPLICATE [a]]", "unterminated identifier (missing ])", 10),
        ('REPLICATE "a', 'unterminated identifier (missing ")', 10),
        ("REPLICATE []", "empty identifier", 10),
        ("REPLICATE a.b.c.d", "at most three parts", 15),
        ("REPLICATE a b", "expected WITH, SELECT or end of statement, found 'b'", 12),
        ("REPLICATE a; DROP TABLE a", "only one statement is allowed", 13),
        ("REPLICATE a;;", "only one statement is allowed", 12),
        ("REPLICATE a -- hidden", "comments (--) are not allowed", 12),
        ("REPLICATE a /* x */", "comments (/*) are not allowed", 12),
        ("REPLICATE a SELECT * FROM b WHERE x = 1 --", "comments (--) are not allowed", 40),
        ("REPLICATE a # x", "unexpected character '#'", 12),
        ("REPLICATE a\x00", "NUL characters are not allowed", 11),
        ("REPLICATE a WITH", "expected option name after WITH, found end of input", 16),
        ("REPLICATE a WITH DropTabel", "unknown option 'DropTabel' (did you mean DropTable?)", 17),
        ("REPLICATE a WITH Frobnicate=1", "valid options are: DropTable, TruncateTable", 17),
        ("REPLICATE a WITH DropTable, DROPTABLE=false", "option DropTable is given twice", 28),
        ("REPLICATE a WITH DropTable=maybe", "option DropTable takes true or false, not 'maybe'", 27),
        ("REPLICATE a WITH BatchSize=abc", "option BatchSize takes a whole number, not 'abc'", 27),
        ("REPLICATE a WITH BatchSize=0", "option BatchSize must be at least 1, not 0", 27),
        ("REPLICATE a WITH BatchSize=-5", "option BatchSize must be at least 1, not -5", 27),
        ("REPLICATE a WITH BatchSize", "option BatchSize needs a value", 17),
        ("REPLICATE a WITH BatchSize={env:n}", "placeholders are only allowed in text options", 27),
        ("REPLICATE a WITH ReplicateIntervalUnit=fortnights", "takes one of minutes, hours, days", 39),
        ("REPLICATE a WITH ReplicateStartDate='01/02/2024'", "is not a date: use yyyy-MM-dd", 36),
        ("REPLICATE a WITH PrimaryKey='a b'", "comma-separated list of column names", 28),
        ("REPLICATE a WITH DropTable=", "expected a value for option DropTable, found end of input", 27),
        ("REPLICATE a WITH DropTable,", "expected option name after ',', found end of input", 27),
        ("REPLICATE a ()", "expected column name, found ')'", 13),
        ("REPLICATE a (x)", "expected a type for column [x], found ')'", 14),
        ("REPLICATE a (x int", "expected ')' or ',' in the column list, found end of input", 18),
        ("REPLICATE a (x int, x text)", "column [x] is defined twice", 20),
        ("REPLICATE a (x int, PRIMARY KEY (y))", "primary key column [y] is not in the column list", 20),
        ("REPLICATE a (x int primary key, PRIMARY KEY (x))", "the primary key is given twice", 32),
        ("REPLICATE a (x numeric(10, 2)", "expected ')' or ',' in the column list", 29),
        ("REPLICATE a (x numeric(10", "expected ')' in the type of column [x]", 25),
        ("REPLICATE a AS", "expected SELECT after AS, found end of input", 14),
        ("REPLICATE a SELECT", "expected an expression, found end of input", 18),
        ("REPLICATE a SELECT *", "expected ',' or FROM after a select item, found end of input", 20),
        ("REPLICATE a SELECT * FROM", "expected table name after FROM, found end of input", 25),
        ("REPLICATE a SELECT * FROM b, c", "joins are not supported: a REPLICATE SELECT reads ONE table", 27),
        ("REPLICATE a SELECT * FROM b JOIN c ON 1=1", "joins are not supported", 28),
        ("REPLICATE a SELECT * FROM b x LEFT JOIN c", "joins are not supported", 30),
        ("REPLICATE a SELECT * FROM (SELECT 1) x", "subqueries are not supported", 26),
        ("REPLICATE a SELECT * FROM b WHERE x IN (SELECT y FROM c)", "subqueries are not supported", 40),
        ("REPLICATE a SELECT * FROM b WHERE EXISTS (SELECT 1)", "subqueries are not supported", 34),
        ("REPLICATE a SELECT (SELECT 1) FROM b", "subqueries are not supported", 20),
        ("REPLICATE a SELECT * FROM b GROUP BY x", "GROUP BY is not supported in a REPLICATE SELECT", 28),
        ("REPLICATE a SELECT * FROM b WHERE x = 1 ORDER BY x", "ORDER BY is not supported", 40),
        ("REPLICATE a SELECT * FROM b LIMIT 10", "LIMIT is not supported", 28),
        ("REPLICATE a SELECT * FROM b UNION SELECT * FROM c", "UNION is not supported", 28),
        ("REPLICATE a SELECT DISTINCT x FROM b", "SELECT DISTINCT is not supported", 19),
        ("REPLICATE a SELECT TOP 5 x FROM b", "SELECT TOP is not supported", 19),
        ("REPLICATE a SELECT x FROM b WHERE", "expected an expression, found end of input", 33),
        ("REPLICATE a SELECT x FROM b WHERE x =", "expected an expression, found end of input", 37),
        ("REPLICATE a SELECT x FROM b WHERE (x = 1", "expected ')' to close '(', found end of input", 40),
        (
            "REPLICATE a SELECT x FROM b WHERE x BETWEEN 1",
            "expected AND in BETWEEN ... AND ..., found end of input",
            45,
        ),
        ("REPLICATE a SELECT x FROM b WHERE x IS 1", "expected NULL after IS [NOT], found number 1", 39),
        ("REPLICATE a SELECT CASE x END FROM b", "expected WHEN in CASE, found keyword END", 26),
        ("REPLICATE a SELECT CAST(x) FROM b", "expected AS in CAST(value AS type), found ')'", 25),
        ("REPLICATE a SELECT x AS FROM b", "expected alias after AS, found keyword FROM", 24),
        ("REPLICATE a SELECT c.x FROM b", "[c] does not name the table of this SELECT ([b])", 19),
        ("REPLICATE a SELECT x FROM b y WHERE z.q = 1", "[z] does not name the table", 36),
        ("REPLICATE a SELECT x FROM b WHERE x = 'open", "unterminated string (missing ')", 38),
        ("REPLICATE a SELECT x FROM b WHERE x = ?", "unexpected character '?'", 38),
        ("REPLICATE a SELECT x FROM b WHERE x = :p", "unexpected character ':'", 38),
        ("REPLICATE a SELECT x FROM b WHERE x = {fn now()}", "placeholders are written {env:NAME}", 38),
        ("REPLICATE a SELECT 1x FROM b", "malformed number", 19),
        ("REPLICATE a SELECT x FROM b WHERE x = 1 y", "expected end of statement, found 'y'", 40),
        ("REPLICATE a SELECT * FROM b; SELECT 1", "only one statement is allowed", 29),
        ("REPLICATE a SELECT * FROM b WITH DropTable", "WITH options go before the SELECT", 28),
    ],
)
def test_invalid_statements(text: str, message: str, position: int) -> None:
    with pytest.raises(ReplicateSyntaxError) as info:
        parse_replicate(text, query_number=3)
    err = info.value
    assert message in err.reason
    assert err.position == position, err.reason
    assert err.query_number == 3
    assert err.field == "Query#3"
    assert str(err).startswith("Query#3: ")
    assert f"(at position {position})" in str(err)


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(ReplicateSyntaxError, match="nested too deeply"):
        parse_replicate("REPLICATE a SELECT " + "(" * 5000 + "1" + ")" * 5000 + " FROM b")
    with pytest.raises(ReplicateSyntaxError, match="nested too deeply"):
        parse_replicate("REPLICATE a SELECT x FROM b WHERE " + "NOT " * 5000 + "x")


def test_syntax_error_is_a_job_validation_error() -> None:
    with pytest.raises(JobValidationError):
        parse_replicate("REPLICATE")


# --- format round trip, normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "REPLICATE [Account]",
        "replicate dbo.[we]]ird name] with BatchSize=10, droptable, CacheSchema='x''y'",
        "REPLICATE T (a DOUBLE PRECISION, b numeric(10,2) primary key) WITH AlterSchema=false AS "
        "SELECT s.a, b * -1 bb, CAST(a AS INT), CASE WHEN a IN (1, 2) THEN 'x' END c, count(*), "
        "EXTRACT(DAY FROM b) FROM dbo.Src s WHERE a IS NOT NULL AND b BETWEEN -1 AND 2 OR NOT a LIKE 'q%'",
        "REPLICATE d SELECT * FROM s WHERE x - -1 > 0 AND y = {env:Since}",
    ],
)
def test_format_round_trip(text: str) -> None:
    stmt = parse_replicate(text)
    formatted = format_replicate(stmt)
    again = parse_replicate(formatted)
    assert again == dataclasses.replace(stmt, text=formatted)
    assert format_replicate(again) == formatted


def test_format_is_canonical() -> None:
    stmt = parse_replicate(
        "replicate   orders with droptable=TRUE,batchsize=5 select a  x from  s where a=1;"
    )
    assert (
        format_replicate(stmt)
        == "REPLICATE [orders] WITH DropTable, BatchSize=5 SELECT [a] AS [x] FROM [s] WHERE [a] = 1"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("REPLICATE [Orders]", "replicate   Orders ;"),
        ("REPLICATE [Orders] WITH DropTable", "REPLICATE Orders with droptable=true"),
        (
            "REPLICATE d SELECT a FROM s WHERE a = 'x  y'",
            "REPLICATE d\n  SELECT a\n  FROM s\n  WHERE a='x  y';",
        ),
    ],
)
def test_normalize_query_text_equal(a: str, b: str) -> None:
    assert normalize_query_text(a) == normalize_query_text(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("REPLICATE [Orders]", "REPLICATE [orders]"),
        ("REPLICATE d SELECT a FROM s WHERE a = 'x  y'", "REPLICATE d SELECT a FROM s WHERE a = 'x y'"),
        ("REPLICATE [Orders] WITH DropTable", "REPLICATE [Orders]"),
    ],
)
def test_normalize_query_text_different(a: str, b: str) -> None:
    assert normalize_query_text(a) != normalize_query_text(b)


def test_normalize_query_text_of_unparsable_text() -> None:
    assert normalize_query_text("  REPLICATE   'a   b'  [c  d]  ;  ") == "REPLICATE 'a   b' [c  d]"
    assert normalize_query_text("replicate x\n select  Col  from  t  order by Col") == (
        "REPLICATE x SELECT Col FROM t ORDER BY Col"
    )


# --- {env:NAME} ---------------------------------------------------------------------------------------------


def test_substitute_env_bare_and_inside_strings() -> None:
    text = "REPLICATE a SELECT * FROM b WHERE x > {env:since} AND y = 'at {env:since}!' AND [{env:since}] = 1"
    out = substitute_env(text, {"since": "2024-01-01"})
    assert (
        out
        == "REPLICATE a SELECT * FROM b WHERE x > '2024-01-01' AND y = 'at 2024-01-01!' AND [{env:since}] = 1"
    )


@pytest.mark.parametrize(
    "value",
    ["x' OR 1=1 --", "'; DROP TABLE t; --", "''", "'", "a''b", "\\'", "}{env:x}", "]' ) OR (1=1"],
)
def test_substitute_env_value_cannot_break_out_of_the_literal(value: str) -> None:
    text = "REPLICATE a SELECT * FROM b WHERE x = {env:v} AND y = '{env:v}' AND z = 'pre {env:v} post'"
    stmt = parse_replicate(substitute_env(text, {"v": value}))
    assert stmt.select is not None and stmt.select.where is not None
    strings = [t.text for t in stmt.select.where.tokens if t.kind == "string"]
    assert strings == [value, value, f"pre {value} post"]
    # nothing but the three comparisons: the value did not add tokens
    assert [t.text for t in stmt.select.where.tokens if t.kind != "string"] == [
        "x",
        "=",
        "AND",
        "y",
        "=",
        "AND",
        "z",
        "=",
    ]


def test_substitute_env_missing_variable_is_an_error() -> None:
    with pytest.raises(JobValidationError, match=r"\{env:nope\} is not set"):
        substitute_env("REPLICATE a SELECT * FROM b WHERE x = {env:nope}", {"other": "1"})


def test_substitute_env_name_lookup_falls_back_to_case_insensitive() -> None:
    assert substitute_env("x = {env:Since}", {"since": "1"}) == "x = '1'"


def test_split_name_list() -> None:
    assert split_name_list('a, [b c], "d", Order') == ("a", "b c", "d", "Order")
    with pytest.raises(ReplicateSyntaxError):
        split_name_list("a b")
    with pytest.raises(ReplicateSyntaxError):
        split_name_list("")


def test_render_expr_writes_function_calls_without_a_space() -> None:
    # MySQL/MariaDB reject "NOW ()", "COUNT (*)", "CAST (" for built-in functions
    stmt = parse_replicate(
        "REPLICATE a SELECT now(), count(*), cast(x AS char(3)), extract(year FROM d), y IN (1, 2) FROM t"
    )
    assert stmt.select is not None
    rendered = [
        render_expr(item.expr, lambda name: "`" + name.replace("`", "``") + "`")
        for item in stmt.select.items
        if item.expr is not None
    ]
    expected = ["NOW()", "COUNT(*)", "CAST(`x` AS CHAR(3))", "EXTRACT(YEAR FROM `d`)", "`y` IN (1, 2)"]
    assert rendered == expected

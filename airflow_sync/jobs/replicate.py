"""``REPLICATE`` statements (``spec/replicate-sql.md`` §1): lexer, recursive-descent parser, formatter.

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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from airflow_sync.exceptions import JobValidationError, ReplicateSyntaxError
from airflow_sync.jobs import options as _options
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

ENV_PLACEHOLDER = re.compile(r"\{env:([A-Za-z0-9_.\-]+)\}", re.IGNORECASE)

#: words that cannot be bare identifiers (bracket them: ``[Order]``)
_RESERVED_WORDS = """SELECT FROM WHERE AS AND OR NOT IN IS NULL BETWEEN LIKE ILIKE ESCAPE CASE WHEN THEN
    ELSE END CAST EXTRACT TRUE FALSE WITH JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER
    BY HAVING LIMIT OFFSET FETCH UNION INTERSECT EXCEPT DISTINCT INTO EXISTS PRIMARY REPLICATE"""
RESERVED = frozenset(_RESERVED_WORDS.split())
_JOIN_WORDS = frozenset({"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL"})
_UNSUPPORTED_TAIL = {
    "GROUP": "GROUP BY",
    "ORDER": "ORDER BY",
    "HAVING": "HAVING",
    "LIMIT": "LIMIT",
    "OFFSET": "OFFSET",
    "FETCH": "FETCH",
    "UNION": "UNION",
    "INTERSECT": "INTERSECT",
    "EXCEPT": "EXCEPT",
    "INTO": "INTO",
}
_NILADIC = frozenset({"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP"})
_RESERVED_FUNCTIONS = frozenset({"LEFT", "RIGHT"})
_COMPARISON = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_MAX_DEPTH = 50
_WORD = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_QUOTES = {"[": ("]", "identifier"), '"': ('"', "identifier"), "`": ("`", "identifier"), "'": ("'", "string")}


@dataclass(frozen=True)
class _Lex:
    """A lexer token. kind: word, qident, string, number, op, punct, env, semi, eof."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


class _Fail(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _tokenize(text: str) -> list[_Lex]:
    toks: list[_Lex] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "\x00":
            raise _Fail("NUL characters are not allowed", i)
        if text.startswith(("--", "/*"), i):
            raise _Fail(f"comments ({text[i : i + 2]}) are not allowed in a REPLICATE statement", i)
        start = i
        if c in "nN" and text.startswith("'", i + 1):  # N'...' (SQL Server unicode literal) is a plain string
            i += 1
            c = "'"
        if c in _QUOTES:
            close, what = _QUOTES[c]
            value, i = _read_quoted(text, i, close, what, start)
            if not value and what == "identifier":
                raise _Fail("empty identifier", start)
            toks.append(_Lex("string" if what == "string" else "qident", value, start))
            continue
        if c == "{":
            m = ENV_PLACEHOLDER.match(text, i)
            if not m:
                raise _Fail("unexpected '{' (placeholders are written {env:NAME})", i)
            toks.append(_Lex("env", m.group(1), i))
            i = m.end()
            continue
        m = _NUMBER.match(text, i) if c.isdigit() or c == "." else None
        if m:
            if m.end() < n and (text[m.end()].isalnum() or text[m.end()] == "_"):
                raise _Fail(f"malformed number {text[i : m.end() + 1]!r}", i)
            toks.append(_Lex("number", m.group(), i))
            i = m.end()
            continue
        m = _WORD.match(text, i)
        if m:
            toks.append(_Lex("word", m.group(), i))
            i = m.end()
            continue
        two = text[i : i + 2]
        if two in ("<=", ">=", "<>", "!=", "||"):
            toks.append(_Lex("op", two, i))
            i += 2
        elif c in "=<>+-*/%":
            toks.append(_Lex("op", c, i))
            i += 1
        elif c in "(),.":
            toks.append(_Lex("punct", c, i))
            i += 1
        elif c == ";":
            rest = text[i + 1 :]
            if rest.strip():
                raise _Fail(
                    "only one statement is allowed: found more text after ';'", n - len(rest.lstrip())
                )
            toks.append(_Lex("semi", ";", i))
            i = n
        else:
            raise _Fail(f"unexpected character {c!r}", i)
    toks.append(_Lex("eof", "", n))
    return toks


def _read_quoted(text: str, i: int, close: str, what: str, start: int) -> tuple[str, int]:
    """Read a quoted item starting at ``text[i]``; a doubled closing character stands for itself."""
    out: list[str] = []
    j = i + 1
    while True:
        k = text.find(close, j)
        if k < 0:
            raise _Fail(f"unterminated {what} (missing {close})", start)
        out.append(text[j:k])
        if text.startswith(close, k + 1):
            out.append(close)
            j = k + 2
            continue
        return "".join(out), k + 1


def _describe(tok: _Lex) -> str:
    short = tok.text if len(tok.text) <= 30 else tok.text[:27] + "..."
    if tok.kind == "eof":
        return "end of input"
    if tok.kind == "word":
        return f"keyword {tok.upper}" if tok.upper in RESERVED else f"{short!r}"
    if tok.kind == "qident":
        return f"identifier {quote_ident(short)}"
    if tok.kind == "string":
        return f"string {quote_string(short)}"
    if tok.kind == "number":
        return f"number {short}"
    if tok.kind == "env":
        return f"{{env:{short}}}"
    return f"{short!r}"


def quote_ident(name: str) -> str:
    """Canonical bracket quoting of an identifier (``]`` doubled)."""
    return "[" + name.replace("]", "]]") + "]"


def quote_string(value: str) -> str:
    """A SQL string literal (``'`` doubled)."""
    return "'" + value.replace("'", "''") + "'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.out: list[Token] = []
        self.qualifiers: list[tuple[tuple[str, ...], int]] = []
        self.depth = 0

    # --- token helpers -------------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> _Lex:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Lex:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_word(self, *words: str, k: int = 0) -> bool:
        return self.peek(k).upper in words

    def is_punct(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "punct" and tok.text == text

    def fail(self, expected: str, tok: _Lex | None = None) -> _Fail:
        tok = tok or self.peek()
        return _Fail(f"expected {expected}, found {_describe(tok)}", tok.pos)

    def expect_punct(self, text: str, context: str) -> _Lex:
        if not self.is_punct(text):
            raise self.fail(f"'{text}' {context}")
        return self.take()

    def is_ident(self, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "qident" or (tok.kind == "word" and tok.upper not in RESERVED)

    def ident(self, expected: str) -> str:
        if not self.is_ident():
            tok = self.peek()
            hint = f" (put reserved words in brackets: [{tok.text}])" if tok.upper in RESERVED else ""
            raise _Fail(f"expected {expected}, found {_describe(tok)}{hint}", tok.pos)
        return self.take().text

    def name_after_dot(self) -> str:
        # after a '.' a reserved word is unambiguous, so [Order] and Order are both accepted there
        if self.peek().kind not in ("word", "qident"):
            raise self.fail("a name after '.'")
        return self.take().text

    def emit(self, kind: str, text: str) -> None:
        self.out.append(Token(kind, text))  # type: ignore[arg-type]  # kinds below are all TokenKind values

    def emit_word(self) -> None:
        self.emit("keyword", self.take().upper)

    # --- statement -----------------------------------------------------------------------------------------
    def statement(self) -> ReplicateStatement:
        if not self.is_word("REPLICATE"):
            raise self.fail("REPLICATE")
        self.take()
        target = self.table_ref("table name after REPLICATE")
        columns: tuple[ColumnDef, ...] = ()
        primary_key: tuple[str, ...] = ()
        if self.is_punct("("):
            columns, primary_key = self.column_defs()
        opts: dict[str, OptionValue] = {}
        if self.is_word("WITH"):
            self.take()
            opts = self.options("after WITH")
        select = None
        if self.is_word("AS"):
            self.take()
            if not self.is_word("SELECT"):
                raise self.fail("SELECT after AS")
        if self.is_word("SELECT"):
            select = self.select()
        self.end("WITH, SELECT or end of statement" if select is None else "end of statement")
        return ReplicateStatement(target, columns, primary_key, opts, select, self.text)

    def end(self, expected: str) -> None:
        if self.peek().kind == "semi":
            self.take()
        if self.peek().kind != "eof":
            if self.is_word("WITH") and expected == "end of statement":
                raise _Fail(
                    "WITH options go before the SELECT: REPLICATE [T] WITH ... SELECT ...", self.peek().pos
                )
            raise self.fail(expected)

    def table_ref(self, expected: str) -> TableRef:
        parts = [self.ident(expected)]
        while self.is_punct("."):
            dot = self.take()
            if len(parts) == 3:
                raise _Fail("a table name has at most three parts (catalog.schema.table)", dot.pos)
            parts.append(self.name_after_dot())
        return TableRef(tuple(parts))

    def column_defs(self) -> tuple[tuple[ColumnDef, ...], tuple[str, ...]]:
        self.take()
        columns: list[ColumnDef] = []
        key: list[str] = []
        key_pos: int | None = None
        while True:
            if self.is_word("PRIMARY") and columns:
                key_pos = self.peek().pos
                if key:
                    raise _Fail("the primary key is given twice", key_pos)
                self.take()
                if not self.is_word("KEY"):
                    raise self.fail("KEY after PRIMARY")
                self.take()
                key = self.name_list_in_parens("after PRIMARY KEY")
            else:
                name_tok = self.peek()
                name = self.ident("column name" if not columns else "column name or PRIMARY KEY")
                if any(c.name.lower() == name.lower() for c in columns):
                    raise _Fail(f"column {quote_ident(name)} is defined twice", name_tok.pos)
                type_sql, inline_key = self.column_type(name)
                if inline_key:
                    if key:
                        raise _Fail("the primary key is given twice", name_tok.pos)
                    key, key_pos = [name], name_tok.pos
                columns.append(ColumnDef(name, type_sql))
            if self.is_punct(","):
                self.take()
                continue
            self.expect_punct(")", "or ',' in the column list")
            break
        known = {c.name.lower() for c in columns}
        for k in key:
            if k.lower() not in known:
                raise _Fail(f"primary key column {quote_ident(k)} is not in the column list", key_pos or 0)
        return tuple(columns), tuple(key)

    def name_list_in_parens(self, context: str) -> list[str]:
        self.expect_punct("(", context)
        names = [self.ident("column name")]
        while self.is_punct(","):
            self.take()
            names.append(self.ident("column name"))
        self.expect_punct(")", "after the key columns")
        if len({n.lower() for n in names}) != len(names):
            raise _Fail("a key column is listed twice", self.peek(-1).pos)
        return names

    def column_type(self, column: str) -> tuple[str, bool]:
        """Type text up to ``,``/``)`` at depth 0, normalised; a trailing ``PRIMARY KEY`` marks the key."""
        if self.peek().kind != "word":
            raise self.fail(f"a type for column {quote_ident(column)}")
        parts: list[str] = []
        depth = 0
        while True:
            tok = self.peek()
            if tok.kind in ("eof", "semi") or (depth == 0 and tok.kind == "punct" and tok.text in ",)"):
                break
            if depth == 0 and tok.upper == "PRIMARY" and self.is_word("KEY", k=1):
                if not parts:
                    raise self.fail(f"a type for column {quote_ident(column)}")
                self.take()
                self.take()
                if not (self.is_punct(",") or self.is_punct(")")):
                    raise self.fail("',' or ')' after PRIMARY KEY")
                return "".join(parts), True
            self.take()
            if tok.kind == "word" or tok.kind == "number":
                glue = " " if parts and parts[-1] not in ("(", ", ") else ""
                parts.append(glue + tok.text)
            elif tok.kind == "string":
                glue = " " if parts and parts[-1] not in ("(", ", ") else ""
                parts.append(glue + quote_string(tok.text))
            elif tok.kind == "punct" and tok.text == "(":
                depth += 1
                parts.append("(")
            elif tok.kind == "punct" and tok.text == ")":
                depth -= 1
                parts.append(")")
            elif tok.kind == "punct" and tok.text == ",":
                parts.append(", ")
            else:
                raise _Fail(
                    f"unexpected {_describe(tok)} in the type of column {quote_ident(column)}", tok.pos
                )
        if depth:
            raise self.fail(f"')' in the type of column {quote_ident(column)}")
        return "".join(parts), False

    # --- options -------------------------------------------------------------------------------------------
    def options(self, context: str) -> dict[str, OptionValue]:
        opts: dict[str, OptionValue] = {}
        while True:
            tok = self.peek()
            if tok.kind not in ("word", "qident"):
                raise self.fail(f"option name {context}")
            self.take()
            name = _options.canonical_option_name(tok.text)
            if name is None:
                raise _Fail(_options.unknown_option_message(tok.text), tok.pos)
            if name in opts:
                raise _Fail(f"option {name} is given twice", tok.pos)
            kind: str | None = None
            value, value_pos = "", tok.pos
            if self.peek().kind == "op" and self.peek().text == "=":
                self.take()
                vtok = self.peek()
                value_pos = vtok.pos
                sign = ""
                if vtok.kind == "op" and vtok.text == "-" and self.peek(1).kind == "number":
                    self.take()
                    sign, vtok = "-", self.peek()
                if vtok.kind not in ("string", "number", "word", "qident", "env"):
                    raise self.fail(f"a value for option {name}")
                self.take()
                kind = {"qident": "ident"}.get(vtok.kind, vtok.kind)
                value = sign + (f"{{env:{vtok.text}}}" if vtok.kind == "env" else vtok.text)
            try:
                opts[name] = _options.coerce_option(name, kind, value)
            except ValueError as exc:
                raise _Fail(str(exc), value_pos) from exc
            if not self.is_punct(","):
                return opts
            self.take()
            context = "after ','"

    # --- select --------------------------------------------------------------------------------------------
    def select(self) -> SelectClause:
        self.take()
        for word in ("DISTINCT", "TOP"):
            if self.is_word(word) and (word == "DISTINCT" or self.peek(1).kind in ("number", "punct")):
                raise _Fail(f"SELECT {word} is not supported in a REPLICATE SELECT", self.peek().pos)
        items = [self.select_item()]
        while self.is_punct(","):
            self.take()
            items.append(self.select_item())
        if not self.is_word("FROM"):
            raise self.fail("',' or FROM after a select item")
        self.take()
        if self.is_punct("("):
            raise _Fail("subqueries are not supported in a REPLICATE SELECT", self.peek().pos)
        source = self.table_ref("table name after FROM")
        alias = None
        if self.is_word("AS"):
            self.take()
            alias = self.ident("table alias after AS")
        elif self.is_ident():
            alias = self.ident("table alias")
        if self.is_punct(",") or self.peek().upper in _JOIN_WORDS:
            raise _Fail("joins are not supported: a REPLICATE SELECT reads ONE table", self.peek().pos)
        where = None
        if self.is_word("WHERE"):
            self.take()
            where = self.expression()
        tail = _UNSUPPORTED_TAIL.get(self.peek().upper)
        if tail:
            raise _Fail(f"{tail} is not supported in a REPLICATE SELECT", self.peek().pos)
        self.check_qualifiers(source, alias)
        return SelectClause(tuple(items), source, where)

    def check_qualifiers(self, source: TableRef, alias: str | None) -> None:
        names = [p.lower() for p in source.parts]
        for qualifier, pos in self.qualifiers:
            q = [p.lower() for p in qualifier]
            if (alias is not None and q == [alias.lower()]) or (
                len(q) <= len(names) and names[-len(q) :] == q
            ):
                continue
            shown = ".".join(quote_ident(p) for p in qualifier)
            raise _Fail(f"{shown} does not name the table of this SELECT ({_format_table(source)})", pos)

    def select_item(self) -> SelectItem:
        if self.peek().kind == "op" and self.peek().text == "*":
            self.take()
            return SelectItem(None, star=True)
        k = 0
        while self.is_ident(k) and self.is_punct(".", k + 1):
            k += 2
        if k and self.peek(k).kind == "op" and self.peek(k).text == "*":
            pos = self.peek().pos
            qualifier = tuple(self.toks[self.i + j].text for j in range(0, k, 2))
            self.i += k + 1
            self.qualifiers.append((qualifier, pos))
            return SelectItem(None, star=True)
        expr = self.expression()
        alias = None
        if self.is_word("AS"):
            self.take()
            alias = self.ident("alias after AS")
        elif self.is_ident():
            alias = self.take().text
        return SelectItem(expr, alias)

    # --- expressions ---------------------------------------------------------------------------------------
    def expression(self) -> Expr:
        saved, self.out = self.out, []
        self.or_expr()
        tokens, self.out = tuple(self.out), saved
        return Expr(tokens)

    def or_expr(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Fail("the expression is nested too deeply", self.peek().pos)
        self.and_expr()
        while self.is_word("OR"):
            self.emit_word()
            self.and_expr()
        self.depth -= 1

    def and_expr(self) -> None:
        self.not_expr()
        while self.is_word("AND"):
            self.emit_word()
            self.not_expr()

    def not_expr(self) -> None:
        if self.is_word("NOT"):
            self.emit_word()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise _Fail("the expression is nested too deeply", self.peek().pos)
            self.not_expr()
            self.depth -= 1
        else:
            self.predicate()

    def predicate(self) -> None:
        self.additive()
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARISON:
            self.emit("op", self.take().text)
            self.additive()
            return
        if tok.upper == "NOT" and self.is_word("IN", "BETWEEN", "LIKE", "ILIKE", k=1):
            self.emit_word()
        if self.is_word("IN"):
            self.emit_word()
            if self.is_punct("(") and self.is_word("SELECT", k=1):
                raise _Fail("subqueries are not supported in a REPLICATE SELECT", self.peek(1).pos)
            self.emit("punct", self.expect_punct("(", "after IN").text)
            self.or_expr()
            while self.is_punct(","):
                self.emit("punct", self.take().text)
                self.or_expr()
            self.emit("punct", self.expect_punct(")", "or ',' in the IN list").text)
        elif self.is_word("BETWEEN"):
            self.emit_word()
            self.additive()
            if not self.is_word("AND"):
                raise self.fail("AND in BETWEEN ... AND ...")
            self.emit_word()
            self.additive()
        elif self.is_word("LIKE", "ILIKE"):
            self.emit_word()
            self.additive()
            if self.is_word("ESCAPE"):
                self.emit_word()
                self.additive()
        elif self.is_word("IS"):
            self.emit_word()
            if self.is_word("NOT"):
                self.emit_word()
            if not self.is_word("NULL", "TRUE", "FALSE"):
                raise self.fail("NULL after IS [NOT]")
            self.emit_word()

    def additive(self) -> None:
        self.multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-", "||"):
            self.emit("op", self.take().text)
            self.multiplicative()

    def multiplicative(self) -> None:
        self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            self.emit("op", self.take().text)
            self.unary()

    def unary(self) -> None:
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            self.emit("op", self.take().text)
        self.primary()

    def primary(self) -> None:
        tok = self.peek()
        if tok.kind in ("number", "string"):
            self.emit(tok.kind, self.take().text)
        elif tok.kind == "env":
            self.emit("string", f"{{env:{self.take().text}}}")
        elif tok.kind == "punct" and tok.text == "(":
            if self.is_word("SELECT", k=1):
                raise _Fail("subqueries are not supported in a REPLICATE SELECT", self.peek(1).pos)
            self.emit("punct", self.take().text)
            self.or_expr()
            self.emit("punct", self.expect_punct(")", "to close '('").text)
        elif tok.kind == "word":
            self.word_primary(tok)
        elif tok.kind == "qident":
            self.column_ref()
        else:
            raise self.fail("an expression")

    def word_primary(self, tok: _Lex) -> None:
        word = tok.upper
        if word in ("NULL", "TRUE", "FALSE") or word in _NILADIC:
            self.emit_word()
        elif word == "CASE":
            self.case_expr()
        elif word == "CAST":
            self.cast_expr()
        elif word == "EXTRACT":
            self.emit_word()
            self.emit("punct", self.expect_punct("(", "after EXTRACT").text)
            if self.peek().kind != "word":
                raise self.fail("a date part after EXTRACT(")
            self.emit_word()
            if not self.is_word("FROM"):
                raise self.fail("FROM in EXTRACT(part FROM value)")
            self.emit_word()
            self.or_expr()
            self.emit("punct", self.expect_punct(")", "to close EXTRACT(").text)
        elif word in ("SELECT", "EXISTS"):
            raise _Fail("subqueries are not supported in a REPLICATE SELECT", tok.pos)
        elif word in ("DATE", "TIME", "TIMESTAMP") and self.peek(1).kind == "string":
            self.emit_word()
            self.emit("string", self.take().text)
        elif self.is_punct("(", k=1) and (word not in RESERVED or word in _RESERVED_FUNCTIONS):
            self.function_call()
        elif word in RESERVED:
            raise self.fail("an expression")
        else:
            self.column_ref()

    def function_call(self) -> None:
        self.emit_word()
        self.emit("punct", self.take().text)
        if self.is_punct(")"):
            self.emit("punct", self.take().text)
            return
        if self.peek().kind == "op" and self.peek().text == "*" and self.is_punct(")", k=1):
            self.emit("op", self.take().text)
        else:
            if self.is_word("DISTINCT"):
                self.emit_word()
            self.or_expr()
            while self.is_punct(","):
                self.emit("punct", self.take().text)
                self.or_expr()
        self.emit("punct", self.expect_punct(")", "or ',' in the function arguments").text)

    def case_expr(self) -> None:
        self.emit_word()
        if not self.is_word("WHEN"):
            self.or_expr()
        if not self.is_word("WHEN"):
            raise self.fail("WHEN in CASE")
        while self.is_word("WHEN"):
            self.emit_word()
            self.or_expr()
            if not self.is_word("THEN"):
                raise self.fail("THEN after CASE ... WHEN condition")
            self.emit_word()
            self.or_expr()
        if self.is_word("ELSE"):
            self.emit_word()
            self.or_expr()
        if not self.is_word("END"):
            raise self.fail("WHEN, ELSE or END in CASE")
        self.emit_word()

    def cast_expr(self) -> None:
        self.emit_word()
        self.emit("punct", self.expect_punct("(", "after CAST").text)
        self.or_expr()
        if not self.is_word("AS"):
            raise self.fail("AS in CAST(value AS type)")
        self.emit_word()
        if self.peek().kind != "word":
            raise self.fail("a type name after AS in CAST")
        while self.peek().kind == "word":
            self.emit_word()
        if self.is_punct("("):
            self.emit("punct", self.take().text)
            while True:
                if self.peek().kind != "number":
                    raise self.fail("a number in the type arguments")
                self.emit("number", self.take().text)
                if not self.is_punct(","):
                    break
                self.emit("punct", self.take().text)
            self.emit("punct", self.expect_punct(")", "after the type arguments").text)
            while self.peek().kind == "word":  # e.g. TIMESTAMP(3) WITH TIME ZONE
                self.emit_word()
        self.emit("punct", self.expect_punct(")", "to close CAST(").text)

    def column_ref(self) -> None:
        start = self.peek().pos
        parts = [self.take().text]
        while self.is_punct(".") and self.peek(1).kind in ("word", "qident"):
            self.take()
            parts.append(self.name_after_dot())
        if len(parts) > 4:
            raise _Fail("a column name has at most four parts (catalog.schema.table.column)", start)
        if len(parts) > 1:
            self.qualifiers.append((tuple(parts[:-1]), start))
        self.emit("ident", parts[-1])


def _syntax_error(fail: _Fail, query_number: int | None) -> ReplicateSyntaxError:
    return ReplicateSyntaxError(fail.message, position=fail.position, query_number=query_number)


def parse_replicate(text: str, *, query_number: int | None = None) -> ReplicateStatement:
    """Parse one ``REPLICATE`` statement.

    :param text: the statement (a trailing ``;`` is allowed)
    :param query_number: 1-based ``Query#N``, used in the error message and field
    :raises ReplicateSyntaxError: the statement does not parse; ``position`` is the 0-based offset
    """
    try:
        return _Parser(text).statement()
    except _Fail as fail:
        raise _syntax_error(fail, query_number) from None
    except RecursionError:  # absurdly nested parentheses
        raise ReplicateSyntaxError(
            "expression is nested too deeply", position=0, query_number=query_number
        ) from None


def parse_option_assignments(text: str) -> dict[str, OptionValue]:
    """Parse ``Name=Value, Flag, Name2='a,b'`` (the body of ``WITH`` / ``OtherCacheOptions``).

    :raises ReplicateSyntaxError: unknown option, bad value or bad syntax
    """
    try:
        parser = _Parser(text)
        if parser.peek().kind == "eof":
            return {}
        opts = parser.options("in the option list")
        parser.end("',' or end of the option list")
        return opts
    except _Fail as fail:
        raise _syntax_error(fail, None) from None


def split_name_list(text: str) -> tuple[str, ...]:
    """Split ``a, [b c], "d"`` into unquoted names (reserved words are fine here).

    :raises ReplicateSyntaxError: the text is not a non-empty comma list of names
    """
    try:
        parser = _Parser(text)
        names: list[str] = []
        while True:
            tok = parser.peek()
            if tok.kind not in ("word", "qident"):
                raise parser.fail("a column name")
            names.append(parser.take().text)
            if not parser.is_punct(","):
                break
            parser.take()
        if parser.peek().kind != "eof":
            raise parser.fail("',' or end of the list")
        return tuple(names)
    except _Fail as fail:
        raise _syntax_error(fail, None) from None


# --- {env:NAME} placeholders -------------------------------------------------------------------------------


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
                raw, end = _read_quoted(text, i, "'", "string", i)
            except _Fail:  # unterminated: the parser reports it; nothing to substitute
                out.append(text[i:])
                break
            out.append(quote_string(substitute_env_value(raw, env)))
            i = end
        elif c in '["`':
            close = _QUOTES[c][0]
            try:
                _, end = _read_quoted(text, i, close, "identifier", i)
            except _Fail:
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


# --- formatting --------------------------------------------------------------------------------------------

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


def format_expr(expr: Expr) -> str:
    """Canonical text of an expression (identifiers in brackets)."""
    return render_expr(expr, quote_ident, quote_string)


def render_expr(
    expr: Expr, quote_ident: Callable[[str], str], quote_string: Callable[[str], str] = quote_string
) -> str:
    """SQL text of an expression for one dialect, like :meth:`Expr.render` but with function calls written
    ``NAME(`` — MySQL/MariaDB reject a space there for built-ins such as ``NOW``, ``COUNT``, ``CAST``.

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


def _format_table(ref: TableRef) -> str:
    return ".".join(quote_ident(p) for p in ref.parts)


def _format_option(name: str, value: OptionValue) -> str:
    if isinstance(value, bool):
        return name if value else f"{name}=false"
    if isinstance(value, int | float):
        return f"{name}={value}"
    return f"{name}={quote_string(value)}"


def format_replicate(stmt: ReplicateStatement) -> str:
    """Canonical text of a statement; ``parse_replicate(format_replicate(s))`` equals ``s`` (but ``text``)."""
    parts = ["REPLICATE", _format_table(stmt.target)]
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
        parts.append("SELECT " + ", ".join(items) + " FROM " + _format_table(stmt.select.source))
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
        if c in _QUOTES:
            try:
                _, end = _read_quoted(body, i, _QUOTES[c][0], "", i)
            except _Fail:
                end = n
            out.append(body[i:end])
            i = end
        elif c.isspace():
            while i < n and body[i].isspace():
                i += 1
            out.append(" ")
        elif m := _WORD.match(body, i):
            word = m.group()
            out.append(word.upper() if word.upper() in RESERVED else word)
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)

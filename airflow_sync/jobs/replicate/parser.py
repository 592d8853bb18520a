"""Statement rules of REPLICATE: target, column list, WITH options, the one-table SELECT."""

from __future__ import annotations

from airflow_sync.exceptions import ReplicateSyntaxError
from airflow_sync.jobs import options as _options
from airflow_sync.jobs.replicate.expressions import ExprParser
from airflow_sync.jobs.replicate.lexer import Fail, describe, format_table, quote_ident, quote_string
from airflow_sync.jobs.statement import (
    ColumnDef,
    OptionValue,
    ReplicateStatement,
    SelectClause,
    SelectItem,
    TableRef,
)

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


class Parser(ExprParser):
    """Recursive-descent parser of one statement (or of an option list / name list)."""

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
                raise Fail(
                    "WITH options go before the SELECT: REPLICATE [T] WITH ... SELECT ...", self.peek().pos
                )
            raise self.fail(expected)

    def table_ref(self, expected: str) -> TableRef:
        parts = [self.ident(expected)]
        while self.is_punct("."):
            dot = self.take()
            if len(parts) == 3:
                raise Fail("a table name has at most three parts (catalog.schema.table)", dot.pos)
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
                    raise Fail("the primary key is given twice", key_pos)
                self.take()
                if not self.is_word("KEY"):
                    raise self.fail("KEY after PRIMARY")
                self.take()
                key = self.name_list_in_parens("after PRIMARY KEY")
            else:
                name_tok = self.peek()
                name = self.ident("column name" if not columns else "column name or PRIMARY KEY")
                if any(c.name.lower() == name.lower() for c in columns):
                    raise Fail(f"column {quote_ident(name)} is defined twice", name_tok.pos)
                type_sql, inline_key = self.column_type(name)
                if inline_key:
                    if key:
                        raise Fail("the primary key is given twice", name_tok.pos)
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
                raise Fail(f"primary key column {quote_ident(k)} is not in the column list", key_pos or 0)
        return tuple(columns), tuple(key)

    def name_list_in_parens(self, context: str) -> list[str]:
        self.expect_punct("(", context)
        names = [self.ident("column name")]
        while self.is_punct(","):
            self.take()
            names.append(self.ident("column name"))
        self.expect_punct(")", "after the key columns")
        if len({n.lower() for n in names}) != len(names):
            raise Fail("a key column is listed twice", self.peek(-1).pos)
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
                raise Fail(f"unexpected {describe(tok)} in the type of column {quote_ident(column)}", tok.pos)
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
                raise Fail(_options.unknown_option_message(tok.text), tok.pos)
            if name in opts:
                raise Fail(f"option {name} is given twice", tok.pos)
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
                raise Fail(str(exc), value_pos) from exc
            if not self.is_punct(","):
                return opts
            self.take()
            context = "after ','"

    # --- select --------------------------------------------------------------------------------------------
    def select(self) -> SelectClause:
        self.take()
        for word in ("DISTINCT", "TOP"):
            if self.is_word(word) and (word == "DISTINCT" or self.peek(1).kind in ("number", "punct")):
                raise Fail(f"SELECT {word} is not supported in a REPLICATE SELECT", self.peek().pos)
        items = [self.select_item()]
        while self.is_punct(","):
            self.take()
            items.append(self.select_item())
        if not self.is_word("FROM"):
            raise self.fail("',' or FROM after a select item")
        self.take()
        if self.is_punct("("):
            raise Fail("subqueries are not supported in a REPLICATE SELECT", self.peek().pos)
        source = self.table_ref("table name after FROM")
        alias = None
        if self.is_word("AS"):
            self.take()
            alias = self.ident("table alias after AS")
        elif self.is_ident():
            alias = self.ident("table alias")
        if self.is_punct(",") or self.peek().upper in _JOIN_WORDS:
            raise Fail("joins are not supported: a REPLICATE SELECT reads ONE table", self.peek().pos)
        where = None
        if self.is_word("WHERE"):
            self.take()
            where = self.expression()
        tail = _UNSUPPORTED_TAIL.get(self.peek().upper)
        if tail:
            raise Fail(f"{tail} is not supported in a REPLICATE SELECT", self.peek().pos)
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
            raise Fail(f"{shown} does not name the table of this SELECT ({format_table(source)})", pos)

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


def _syntax_error(fail: Fail, query_number: int | None) -> ReplicateSyntaxError:
    return ReplicateSyntaxError(fail.message, position=fail.position, query_number=query_number)


def parse_replicate(text: str, *, query_number: int | None = None) -> ReplicateStatement:
    """Parse one ``REPLICATE`` statement.

    :param text: the statement (a trailing ``;`` is allowed)
    :param query_number: 1-based ``Query#N``, used in the error message and field
    :raises ReplicateSyntaxError: the statement does not parse; ``position`` is the 0-based offset
    """
    try:
        return Parser(text).statement()
    except Fail as fail:
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
        parser = Parser(text)
        if parser.peek().kind == "eof":
            return {}
        opts = parser.options("in the option list")
        parser.end("',' or end of the option list")
        return opts
    except Fail as fail:
        raise _syntax_error(fail, None) from None


def split_name_list(text: str) -> tuple[str, ...]:
    """Split ``a, [b c], "d"`` into unquoted names (reserved words are fine here).

    :raises ReplicateSyntaxError: the text is not a non-empty comma list of names
    """
    try:
        parser = Parser(text)
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
    except Fail as fail:
        raise _syntax_error(fail, None) from None

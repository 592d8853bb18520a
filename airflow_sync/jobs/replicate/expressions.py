"""Expressions of a REPLICATE SELECT (select items, WHERE), parsed into :class:`Expr` token tuples.

The rules validate the structure and keep the tokens in source order (precedence does not change the
tokens), so an expression renders back as written, with identifiers re-quoted per dialect.
"""

from __future__ import annotations

from airflow_sync.jobs.replicate.lexer import RESERVED, Fail, Lex, TokenStream
from airflow_sync.jobs.statement import Expr, Token

_NILADIC = frozenset({"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP"})
_RESERVED_FUNCTIONS = frozenset({"LEFT", "RIGHT"})
_COMPARISON = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
MAX_DEPTH = 50


class ExprParser(TokenStream):
    """Expression rules; column qualifiers are collected in :attr:`qualifiers` for the SELECT to check."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.out: list[Token] = []
        self.qualifiers: list[tuple[tuple[str, ...], int]] = []
        self.depth = 0

    def emit(self, kind: str, text: str) -> None:
        self.out.append(Token(kind, text))  # type: ignore[arg-type]  # kinds below are all TokenKind values

    def emit_word(self) -> None:
        self.emit("keyword", self.take().upper)

    # --- expressions ---------------------------------------------------------------------------------------
    def expression(self) -> Expr:
        saved, self.out = self.out, []
        self.or_expr()
        tokens, self.out = tuple(self.out), saved
        return Expr(tokens)

    def or_expr(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Fail("the expression is nested too deeply", self.peek().pos)
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
            if self.depth > MAX_DEPTH:
                raise Fail("the expression is nested too deeply", self.peek().pos)
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
                raise Fail("subqueries are not supported in a REPLICATE SELECT", self.peek(1).pos)
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
                raise Fail("subqueries are not supported in a REPLICATE SELECT", self.peek(1).pos)
            self.emit("punct", self.take().text)
            self.or_expr()
            self.emit("punct", self.expect_punct(")", "to close '('").text)
        elif tok.kind == "word":
            self.word_primary(tok)
        elif tok.kind == "qident":
            self.column_ref()
        else:
            raise self.fail("an expression")

    def word_primary(self, tok: Lex) -> None:
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
            raise Fail("subqueries are not supported in a REPLICATE SELECT", tok.pos)
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
            raise Fail("a column name has at most four parts (catalog.schema.table.column)", start)
        if len(parts) > 1:
            self.qualifiers.append((tuple(parts[:-1]), start))
        self.emit("ident", parts[-1])

"""Lexer of REPLICATE statements and the token cursor the parsers share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_sync.jobs.statement import TableRef

ENV_PLACEHOLDER = re.compile(r"\{env:([A-Za-z0-9_.\-]+)\}", re.IGNORECASE)

#: words that cannot be bare identifiers (bracket them: ``[Order]``)
_RESERVED_WORDS = """SELECT FROM WHERE AS AND OR NOT IN IS NULL BETWEEN LIKE ILIKE ESCAPE CASE WHEN THEN
    ELSE END CAST EXTRACT TRUE FALSE WITH JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER
    BY HAVING LIMIT OFFSET FETCH UNION INTERSECT EXCEPT DISTINCT INTO EXISTS PRIMARY REPLICATE"""
RESERVED = frozenset(_RESERVED_WORDS.split())
WORD = re.compile(r"[^\W\d]\w*")
NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
QUOTES = {"[": ("]", "identifier"), '"': ('"', "identifier"), "`": ("`", "identifier"), "'": ("'", "string")}


@dataclass(frozen=True)
class Lex:
    """A lexer token. kind: word, qident, string, number, op, punct, env, semi, eof."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


class Fail(Exception):
    """A syntax error at a 0-based position; the public functions turn it into ReplicateSyntaxError."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def tokenize(text: str) -> list[Lex]:
    toks: list[Lex] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "\x00":
            raise Fail("NUL characters are not allowed", i)
        if text.startswith(("--", "/*"), i):
            raise Fail(f"comments ({text[i : i + 2]}) are not allowed in a REPLICATE statement", i)
        start = i
        if c in "nN" and text.startswith("'", i + 1):  # N'...' (SQL Server unicode literal) is a plain string
            i += 1
            c = "'"
        if c in QUOTES:
            close, what = QUOTES[c]
            value, i = read_quoted(text, i, close, what, start)
            if not value and what == "identifier":
                raise Fail("empty identifier", start)
            toks.append(Lex("string" if what == "string" else "qident", value, start))
            continue
        if c == "{":
            m = ENV_PLACEHOLDER.match(text, i)
            if not m:
                raise Fail("unexpected '{' (placeholders are written {env:NAME})", i)
            toks.append(Lex("env", m.group(1), i))
            i = m.end()
            continue
        m = NUMBER.match(text, i) if c.isdigit() or c == "." else None
        if m:
            if m.end() < n and (text[m.end()].isalnum() or text[m.end()] == "_"):
                raise Fail(f"malformed number {text[i : m.end() + 1]!r}", i)
            toks.append(Lex("number", m.group(), i))
            i = m.end()
            continue
        m = WORD.match(text, i)
        if m:
            toks.append(Lex("word", m.group(), i))
            i = m.end()
            continue
        two = text[i : i + 2]
        if two in ("<=", ">=", "<>", "!=", "||"):
            toks.append(Lex("op", two, i))
            i += 2
        elif c in "=<>+-*/%":
            toks.append(Lex("op", c, i))
            i += 1
        elif c in "(),.":
            toks.append(Lex("punct", c, i))
            i += 1
        elif c == ";":
            rest = text[i + 1 :]
            if rest.strip():
                raise Fail("only one statement is allowed: found more text after ';'", n - len(rest.lstrip()))
            toks.append(Lex("semi", ";", i))
            i = n
        else:
            raise Fail(f"unexpected character {c!r}", i)
    toks.append(Lex("eof", "", n))
    return toks


def read_quoted(text: str, i: int, close: str, what: str, start: int) -> tuple[str, int]:
    """Read a quoted item starting at ``text[i]``; a doubled closing character stands for itself."""
    out: list[str] = []
    j = i + 1
    while True:
        k = text.find(close, j)
        if k < 0:
            raise Fail(f"unterminated {what} (missing {close})", start)
        out.append(text[j:k])
        if text.startswith(close, k + 1):
            out.append(close)
            j = k + 2
            continue
        return "".join(out), k + 1


def describe(tok: Lex) -> str:
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


def format_table(ref: TableRef) -> str:
    """Canonical text of a table name: ``[schema].[table]``."""
    return ".".join(quote_ident(p) for p in ref.parts)


class TokenStream:
    """A cursor over the tokens of one text, with the helpers every parser rule uses."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # --- token helpers -------------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Lex:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Lex:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_word(self, *words: str, k: int = 0) -> bool:
        return self.peek(k).upper in words

    def is_punct(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "punct" and tok.text == text

    def fail(self, expected: str, tok: Lex | None = None) -> Fail:
        tok = tok or self.peek()
        return Fail(f"expected {expected}, found {describe(tok)}", tok.pos)

    def expect_punct(self, text: str, context: str) -> Lex:
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
            raise Fail(f"expected {expected}, found {describe(tok)}{hint}", tok.pos)
        return self.take().text

    def name_after_dot(self) -> str:
        # after a '.' a reserved word is unambiguous, so [Order] and Order are both accepted there
        if self.peek().kind not in ("word", "qident"):
            raise self.fail("a name after '.'")
        return self.take().text

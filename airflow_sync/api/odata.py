"""The OData query subset of job-api §4: ``$filter``, ``$select``, ``$orderby``, ``$top``, ``$skip``,
``$count``.

A real tokenizer and recursive-descent parser turn ``$filter`` into a small AST that is evaluated in Python
over the row dicts — never pasted into SQL. Errors are 400s naming the parameter and the character
position.

Comparison rule: a field's declared type (the ``schema`` mapping, field -> ``string`` | ``int`` |
``number`` | ``bool`` | ``datetime``) decides how its wire value (CData sends strings such as ``"1200"``,
``"True"``) and the literal are compared: ``RecordsAffected gt 100`` compares numbers, ``RunStartDate ge
2024-01-01`` compares instants. Fields without a declared type take the literal's type when the value
converts to it, else compare as text. Naive datetimes are taken as UTC; ``null`` sorts first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from airflow_sync.api.errors import ApiError
from airflow_sync.jobs import scalars

FieldType = str  # "string" | "int" | "number" | "bool" | "datetime"
TYPES = ("string", "int", "number", "bool", "datetime")

_DT = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<dtq>(?:datetime|datetimeoffset)'(?P<dtq_v>[^']*)')
  | (?P<str>'(?:[^']|'')*')
  | (?P<dt>{_DT})(?![\w.])
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
  | (?P<ident>[A-Za-z_][\w#.]*)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
COMPARE_OPS = ("eq", "ne", "gt", "ge", "lt", "le")
KEYWORDS = {"and", "or", "not", *COMPARE_OPS, "true", "false", "null"}
BOOL_FUNCS = {"contains": 2, "startswith": 2, "endswith": 2}
VALUE_FUNCS = {"tolower": 1, "toupper": 1, "trim": 1, "length": 1}
MAX_DEPTH = 50
# A request's head must fit uvicorn's 16 KiB (h11): 800 characters are at most 9.6 KB percent-encoded (4-byte
# UTF-8), leaving room for $select/$orderby and the headers; a longer filter would be refused as a bare 400.
MAX_FILTER_CHARS = 800
MAX_NUMBER_CHARS = 100
MAX_SELECT = 40
MAX_ORDERBY = 10


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class ODataQuery:
    """A parsed query. ``orderby`` holds ``(field, descending)`` pairs; ``select`` None means all fields."""

    filter: Any = None
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    schema: Mapping[str, FieldType] | None = field(default=None, compare=False)


# ---------------------------------------------------------------- parsing


@dataclass
class _Tok:
    kind: str
    text: str
    value: Any
    pos: int


def _bad(param: str, message: str, pos: int | None = None) -> ApiError:
    where = f" (at position {pos})" if pos is not None else ""
    return ApiError(400, "InvalidQuery", f"{param}: {message}{where}.", target=param)


def parse_datetime(text: str) -> datetime | None:
    """ISO date or datetime (``Z`` / offsets; naive = UTC), or None when it is not one."""
    text = text.strip()
    if not re.fullmatch(_DT, text):
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tokenize(text: str, param: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _bad(param, f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        raw = m.group(0)
        if kind == "dtq_v":  # pragma: no cover - lastgroup is the outer group
            kind = "dtq"
        if kind == "ws":
            pos = m.end()
            continue
        value: Any = raw
        if kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind in ("dt", "dtq"):
            literal = m.group("dtq_v") if kind == "dtq" else raw
            value = parse_datetime(literal)
            if value is None:
                raise _bad(param, f"invalid date/time {literal!r}", pos)
            kind = "dt"
        elif kind == "num":
            if len(raw) > MAX_NUMBER_CHARS:  # int() of 5,000 digits raises (and would be slow)
                raise _bad(param, f"number literal longer than {MAX_NUMBER_CHARS} characters", pos)
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "ident" and raw.lower() in KEYWORDS:
            kind = raw.lower()
        tokens.append(_Tok(kind, raw, value, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, param: str, resolve: Callable[[str, int], str]) -> None:
        self.param = param
        self.toks = _tokenize(text, param)
        self.i = 0
        self.resolve = resolve
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str | None = None) -> _Tok:
        tok = self.toks[self.i]
        if kind is not None and tok.kind != kind:
            wanted = {"rp": "')'", "lp": "'('", "comma": "','"}.get(kind, kind)
            got = "the end of the expression" if tok.kind == "end" else repr(tok.text)
            raise _bad(self.param, f"expected {wanted}, found {got}", tok.pos)
        self.i += 1
        return tok

    def parse(self) -> Any:
        if self.peek().kind == "end":
            raise _bad(self.param, "empty expression", 0)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise _bad(self.param, f"unexpected {tok.text!r}", tok.pos)
        return node

    def or_expr(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:  # bad input, not a RecursionError (500)
            raise _bad(self.param, f"nested deeper than {MAX_DEPTH} levels", self.peek().pos)
        items = [self.and_expr()]
        while self.peek().kind == "or":
            self.take()
            items.append(self.and_expr())
        self.depth -= 1
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.peek().kind == "and":
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Any:
        negate = False
        while self.peek().kind == "not":  # a loop, so "not not not ..." cannot exhaust the stack
            self.take()
            negate = not negate
        node = self.comparison()
        return Not(node) if negate else node

    def comparison(self) -> Any:
        left = self.operand()
        tok = self.peek()
        if tok.kind in COMPARE_OPS:
            self.take()
            return Compare(tok.kind, left, self.operand())
        return left

    def operand(self) -> Any:
        tok = self.take()
        if tok.kind == "lp":
            node = self.or_expr()
            self.take("rp")
            return node
        if tok.kind in ("str", "num", "dt"):
            return Lit(tok.value)
        if tok.kind in ("true", "false"):
            return Lit(tok.kind == "true")
        if tok.kind == "null":
            return Lit(None)
        if tok.kind == "ident":
            name = tok.text.lower()
            if self.peek().kind == "lp" and (name in BOOL_FUNCS or name in VALUE_FUNCS):
                return self.call(name, tok)
            if self.peek().kind == "lp":
                raise _bad(self.param, f"unknown function {tok.text!r}", tok.pos)
            return Field(self.resolve(tok.text, tok.pos))
        got = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise _bad(self.param, f"expected a field, value or '(', found {got}", tok.pos)

    def call(self, name: str, tok: _Tok) -> Call:
        self.take("lp")
        args = [self.or_expr()]
        while self.peek().kind == "comma":
            self.take()
            args.append(self.or_expr())
        self.take("rp")
        arity = BOOL_FUNCS.get(name) or VALUE_FUNCS[name]
        if len(args) != arity:
            raise _bad(self.param, f"{name}() takes {arity} argument(s), got {len(args)}", tok.pos)
        return Call(name, tuple(args))


def _resolver(schema: Mapping[str, FieldType] | None, param: str) -> Callable[[str, int | None], str]:
    """Field names are matched case-insensitively to the schema's spelling; unknown ones are a 400."""
    by_lower = {name.lower(): name for name in schema} if schema else None

    def resolve(name: str, pos: int | None) -> str:
        if by_lower is None:
            return name
        canonical = by_lower.get(name.lower())
        if canonical is None:
            raise _bad(param, f"unknown field {name!r}", pos)
        return canonical

    return resolve


#: largest $top / $skip
PAGE_MAX = 999_999_999


def _non_negative(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    value = scalars.parse_int(raw, 0, PAGE_MAX)
    if value is None:
        raise _bad(name, f"must be a whole number from 0 to {PAGE_MAX}, got {raw[:40]!r}")
    return value


def parse_odata(params: Mapping[str, str], *, schema: Mapping[str, FieldType] | None = None) -> ODataQuery:
    """Parse the OData system query options in ``params`` (other parameters are ignored).

    :param params: the query parameters (``request.query_params``); option names are case-insensitive
    :param schema: field -> type (see module doc); when given, unknown fields are a 400 at parse time
    :raises ApiError: 400 naming the option (and the position for ``$filter``)
    """
    opts = {k.lower(): v for k, v in params.items() if k.startswith("$")}
    if schema is not None:
        bad = {t for t in schema.values() if t not in TYPES}
        if bad:
            raise ValueError(f"unknown field types in schema: {sorted(bad)}")
    flt = None
    if len(opts.get("$filter", "")) > MAX_FILTER_CHARS:
        raise _bad("$filter", f"longer than {MAX_FILTER_CHARS} characters")
    if opts.get("$filter", "").strip():
        flt = _Parser(opts["$filter"], "$filter", _resolver(schema, "$filter")).parse()
    select = None
    if opts.get("$select", "").strip() and opts["$select"].strip() != "*":
        resolve = _resolver(schema, "$select")
        names = [n.strip() for n in opts["$select"].split(",")]
        if any(not n for n in names):
            raise _bad("$select", "empty field name in the list")
        if len(names) > MAX_SELECT:
            raise _bad("$select", f"more than {MAX_SELECT} fields")
        select = tuple(dict.fromkeys(resolve(n, None) for n in names))
    orderby: list[tuple[str, bool]] = []
    if opts.get("$orderby", "").strip():
        resolve = _resolver(schema, "$orderby")
        if opts["$orderby"].count(",") >= MAX_ORDERBY:
            raise _bad("$orderby", f"more than {MAX_ORDERBY} sort keys")
        for part in opts["$orderby"].split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise _bad("$orderby", f"expected 'Field [asc|desc]', got {part.strip()!r}")
            orderby.append((resolve(words[0], None), len(words) == 2 and words[1].lower() == "desc"))
    count_raw = opts.get("$count", "false").strip(scalars.WS).lower()
    if count_raw not in ("true", "false"):
        raise _bad("$count", f"must be true or false, got {opts['$count'][:40]!r}")
    return ODataQuery(
        filter=flt,
        select=select,
        orderby=tuple(orderby),
        top=_non_negative(opts, "$top"),
        skip=_non_negative(opts, "$skip") or 0,
        count=count_raw == "true",
        schema=schema,
    )


# ---------------------------------------------------------------- evaluation


def _convert(value: Any, typ: FieldType | None) -> Any:
    """A wire value in its declared type (None when empty or not convertible)."""
    if value is None or typ in (None, "string"):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if typ == "bool":
            low = text.lower()
            return True if low in ("true", "1") else False if low in ("false", "0") else None
        if typ in ("int", "number"):
            try:
                return int(text)
            except ValueError:
                try:
                    return float(text)
                except ValueError:
                    return None
        if typ == "datetime":
            return parse_datetime(text)
    if typ == "datetime" and isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def _like(value: Any, other: Any) -> Any:
    """``value`` converted to the type of ``other`` when possible (fields without a declared type)."""
    if isinstance(value, str):
        if isinstance(other, bool):
            return _convert(value, "bool")
        if isinstance(other, int | float):
            converted = _convert(value, "number")
            return value if converted is None else converted
        if isinstance(other, datetime):
            return parse_datetime(value) or value
    return value


def _compare(op: str, a: Any, b: Any) -> bool:
    a, b = _like(a, b), _like(b, a)
    if op in ("eq", "ne"):
        if isinstance(a, str) != isinstance(b, str) and a is not None and b is not None:
            a, b = str(a), str(b)
        return (a == b) if op == "eq" else (a != b)
    if a is None or b is None:
        return False
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        a, b = str(a), str(b)
    if op == "gt":
        return a > b
    if op == "ge":
        return a >= b
    if op == "lt":
        return a < b
    return a <= b


class _Evaluator:
    def __init__(self, schema: Mapping[str, FieldType] | None) -> None:
        self.schema = schema or {}

    def value(self, node: Any, row: Mapping[str, Any]) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Field):
            return _convert(row.get(node.name), self.schema.get(node.name))
        if isinstance(node, Call):
            args = [self.value(a, row) for a in node.args]
            if node.name in BOOL_FUNCS:
                hay, needle = args
                if hay is None or needle is None:
                    return False
                hay, needle = str(hay), str(needle)
                if node.name == "contains":
                    return needle in hay
                return hay.startswith(needle) if node.name == "startswith" else hay.endswith(needle)
            (arg,) = args
            if arg is None:
                return None
            text = str(arg)
            return {"tolower": text.lower, "toupper": text.upper, "trim": text.strip}.get(
                node.name, lambda: len(text)
            )()
        return self.truth(node, row)

    def truth(self, node: Any, row: Mapping[str, Any]) -> bool:
        if isinstance(node, BoolOp):
            parts = (self.truth(item, row) for item in node.items)
            return all(parts) if node.op == "and" else any(parts)
        if isinstance(node, Not):
            return not self.truth(node.item, row)
        if isinstance(node, Compare):
            return _compare(node.op, self.value(node.left, row), self.value(node.right, row))
        value = self.value(node, row)
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, datetime):
        return (3, value)
    return (4, str(value))


def _check_fields(q: ODataQuery, known: set[str]) -> None:
    """Without a schema, fields are checked against the rows' keys (skipped for an empty result)."""
    for name in q.select or ():
        if name not in known:
            raise _bad("$select", f"unknown field {name!r}")
    for name, _ in q.orderby:
        if name not in known:
            raise _bad("$orderby", f"unknown field {name!r}")


def filter_rows(
    rows: Iterable[Mapping[str, Any]], q: ODataQuery, *, schema: Mapping[str, FieldType] | None = None
) -> list[dict[str, Any]]:
    """Rows matching ``$filter`` (before ordering, paging and ``$select``) — ``len()`` is ``$count``.

    The row dicts themselves (not copies) are returned: nothing here changes them.
    """
    if q.filter is None:
        return [r if isinstance(r, dict) else dict(r) for r in rows]
    evaluator = _Evaluator(schema if schema is not None else q.schema)
    return [r if isinstance(r, dict) else dict(r) for r in rows if evaluator.truth(q.filter, r)]


def apply_odata(
    rows: Iterable[Mapping[str, Any]], q: ODataQuery, *, schema: Mapping[str, FieldType] | None = None
) -> list[dict[str, Any]]:
    """Filter, order, page and project ``rows`` as ``q`` says (all in Python).

    :param rows: wire rows (dicts)
    :param q: from :func:`parse_odata`
    :param schema: field types, if not already given to :func:`parse_odata`
    """
    schema = schema if schema is not None else q.schema
    result = filter_rows(rows, q, schema=schema)
    if schema is None and result:
        _check_fields(q, set().union(*(r.keys() for r in result)))
    types = schema or {}
    for name, descending in reversed(q.orderby):  # stable sorts, last key first

        def key(row: dict[str, Any], n: str = name) -> tuple[int, Any]:
            return _sort_key(_convert(row.get(n), types.get(n)))

        result.sort(key=key, reverse=descending)
    result = result[q.skip :]
    if q.top is not None:
        result = result[: q.top]
    if q.select is not None:
        result = [{k: r.get(k) for k in q.select} for r in result]
    return result


# ---------------------------------------------------------------- OpenAPI


def odata_parameters(fields: Iterable[str], *, count: bool = True) -> list[dict[str, Any]]:
    """The OpenAPI ``parameters`` of a collection route's OData options, as :func:`parse_odata` enforces
    them (``$select``/``$orderby`` name fields of ``fields``; ``$filter`` is a string the parser checks).

    :param fields: the entity's field names
    :param count: whether ``$count=true`` (``@odata.count`` in the envelope) is offered
    """
    names = list(fields)
    order_items = [f"{n}{suffix}" for n in names for suffix in ("", " asc", " desc")]
    params: list[dict[str, Any]] = [
        {
            "name": "$filter",
            "in": "query",
            "required": False,
            "description": "OData filter: eq ne gt ge lt le, and or not, ( ), contains/startswith/endswith, "
            "tolower/toupper/trim/length; 'text' literals, numbers, true/false/null, dates (2024-01-31, "
            "2024-01-31T08:00:00Z). A 400 gives the position of a syntax error.",
            "schema": {"type": "string", "maxLength": MAX_FILTER_CHARS},
        },
        {
            "name": "$select",
            "in": "query",
            "required": False,
            "description": "fields to return (comma-separated)",
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "maxItems": MAX_SELECT, "items": {"type": "string", "enum": names}},
        },
        {
            "name": "$orderby",
            "in": "query",
            "required": False,
            "description": "sort keys, each 'Field [asc|desc]' (comma-separated)",
            "style": "form",
            "explode": False,
            "schema": {
                "type": "array",
                "maxItems": MAX_ORDERBY,
                "items": {"type": "string", "enum": order_items},
            },
        },
        {
            "name": "$top",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": PAGE_MAX},
        },
        {
            "name": "$skip",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": PAGE_MAX},
        },
    ]
    if count:
        params.append(
            {
                "name": "$count",
                "in": "query",
                "required": False,
                "description": "true: the envelope carries @odata.count (rows matching $filter)",
                "schema": {"type": "boolean"},
            }
        )
    return params

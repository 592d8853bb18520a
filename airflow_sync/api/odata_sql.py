"""OData ``$filter`` / ``$orderby`` answered by the database, with exactly the Python answers.

:mod:`airflow_sync.api.odata` defines what a filter means (evaluated over wire rows in Python). This module
translates a parsed filter into two SQLAlchemy predicates over expressions that hold the same values:
``certain`` (the row surely matches) and ``possible`` (the row may match; every matching row does). When
they are the same the translation is **exact**: the database filters, counts and pages alone. Otherwise the
caller evaluates the filter in Python for the rows that are possible but not certain — the answer is the
same either way, only the cost differs.

Fields come in two kinds:

* :class:`SqlField` — an expression of the field's value; ``known`` (optional) says for which rows the
  expression is the value (elsewhere only Python knows it: comparisons there are possible, not certain);
* :class:`EnumField` — a field with a few possible values per row, given as cases: a SQL condition and the
  values a row in that case may have (one value: known). Any condition on the field alone — every operator,
  function and ``not`` — is decided by evaluating it in Python on each case's values.

Exact leaves (anything else is possible everywhere and certain nowhere):

* ``eq``/``ne`` with a literal of the field's own type (``'text'`` for strings, numbers for ``int``, a date
  for ``datetime``) or ``null``; ``gt``/``ge``/``lt``/``le`` likewise, strings compared by code point
  (``COLLATE "C"`` on PostgreSQL, SQLite's binary collation; other databases: possible only);
* ``contains`` / ``startswith`` / ``endswith`` of a string field and a text literal (case-sensitive:
  PostgreSQL ``LIKE``, SQLite ``instr``/``substr``; elsewhere ``LIKE`` gives the possible rows);
* ``true`` / ``false``.

Missing values follow the Python rules: ``eq null`` matches them, ``ne 'x'`` matches them, every ordering
comparison and function is false for them — each predicate is two-valued (never SQL ``NULL``), so ``not``
keeps certain and possible apart correctly (``not`` swaps them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from airflow_sync.api.odata import BoolOp, Call, Compare, Field, Lit, Not, _Evaluator

_FLIP = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


@dataclass(frozen=True)
class SqlField:
    """A wire field as a SQL expression of the same value.

    :param expr: the expression (NULL where the wire value is null)
    :param type: the field's OData type (``string``, ``int``, ``number``, ``datetime``)
    :param key: for ``eq``/``ne``/``startswith``: an indexed column holding ``key_prefix`` + the value
    :param key_prefix: see ``key``
    :param known: a two-valued condition: where it is false, ``expr`` is not the value (None: always is)
    """

    expr: Any
    type: str
    key: Any = None
    key_prefix: str = ""
    known: Any = None


@dataclass(frozen=True)
class EnumField:
    """A field whose value is one of a few, per row: ``cases`` are ``(condition, possible values)`` — the
    conditions two-valued, mutually exclusive, and covering every row."""

    cases: tuple[tuple[Any, frozenset[Any]], ...]

    def expr(self) -> Any:
        """The value as SQL where it is known (NULL where it is not), for ordering."""
        return case(*((cond, next(iter(values))) for cond, values in self.cases if len(values) == 1))

    @property
    def ordered(self) -> bool:
        return all(len(values) == 1 for _, values in self.cases)


@dataclass(frozen=True)
class Translation:
    """``certain`` rows surely match, ``possible`` rows may (every matching row is possible)."""

    certain: ColumnElement[bool]
    possible: ColumnElement[bool]
    exact: bool

    @property
    def where(self) -> ColumnElement[bool]:
        """The rows to read (possible ones)."""
        return self.possible


def _exact(where: ColumnElement[bool]) -> Translation:
    return Translation(where, where, True)


_UNKNOWN = Translation(false(), true(), False)


def translate(
    node: Any,
    fields: Mapping[str, SqlField | EnumField],
    dialect: str,
    schema: Mapping[str, str] | None = None,
) -> Translation:
    """The SQL form of a parsed ``$filter`` (``None`` = no filter: everything, exactly).

    :param node: the filter AST from :func:`airflow_sync.api.odata.parse_odata`
    :param fields: the fields that exist in SQL (others make their conditions possible everywhere)
    :param dialect: the SQLAlchemy dialect name (``postgresql``, ``sqlite``, ``mysql``...)
    :param schema: the fields' OData types (to evaluate conditions on :class:`EnumField` values)
    """
    if node is None:
        return _exact(true())
    return _Translator(fields, dialect, schema or {}).node(node)


def fields_of(node: Any) -> set[str]:
    """The field names a parsed filter refers to."""
    if isinstance(node, Field):
        return {node.name}
    if isinstance(node, BoolOp | Call):
        items = node.items if isinstance(node, BoolOp) else node.args
        return set().union(*(fields_of(item) for item in items))
    if isinstance(node, Not):
        return fields_of(node.item)
    if isinstance(node, Compare):
        return fields_of(node.left) | fields_of(node.right)
    return set()


def order_by(
    orderby: Sequence[tuple[str, bool]], fields: Mapping[str, SqlField | EnumField], dialect: str
) -> list[Any] | None:
    """SQL sort keys giving the Python order of ``$orderby`` (nulls first ascending, last descending), or
    None when a key cannot be sorted so in SQL. The caller adds its own final tie-breaker."""
    keys: list[Any] = []
    for name, descending in orderby:
        spec = fields.get(name)
        if spec is None:
            return None
        if isinstance(spec, EnumField):
            if not spec.ordered:
                return None
            expr = _binary(spec.expr(), dialect)
        elif spec.known is not None:
            return None
        else:
            expr = _binary(spec.expr, dialect) if spec.type == "string" else spec.expr
        if expr is None:
            return None
        keys.append(expr.desc().nulls_last() if descending else expr.asc().nulls_first())
    return keys


def _binary(expr: Any, dialect: str) -> Any:
    """``expr`` compared by code point (Python's string order), or None where that is not available."""
    if dialect == "postgresql":
        return expr.collate("C")
    if dialect == "sqlite":
        return expr  # BINARY collation: memcmp of UTF-8 = code point order
    return None


class _Translator:
    def __init__(self, fields: Mapping[str, SqlField | EnumField], dialect: str, schema: Mapping[str, str]):
        self.fields = fields
        self.dialect = dialect
        self.schema = schema

    def node(self, node: Any) -> Translation:
        if isinstance(node, BoolOp):
            parts = [self.node(item) for item in node.items]
            combine = and_ if node.op == "and" else or_
            return Translation(
                combine(*(p.certain for p in parts)),
                combine(*(p.possible for p in parts)),
                all(p.exact for p in parts),
            )
        if isinstance(node, Not):
            inner = self.node(node.item)
            return Translation(not_(inner.possible), not_(inner.certain), inner.exact)
        names = fields_of(node)
        if len(names) == 1 and isinstance(self.fields.get(next(iter(names))), EnumField):
            return self.enum(node, next(iter(names)))
        if isinstance(node, Compare):
            return self.known(node, self.compare(node))
        if isinstance(node, Call):
            return self.known(node, self.call(node))
        if isinstance(node, Lit):  # a bare literal: true only for true / 'true'
            value = node.value
            truth = value is True or (isinstance(value, str) and value.strip().lower() == "true")
            return _exact(true() if truth else false())
        return _UNKNOWN  # a bare field as a condition

    def known(self, node: Any, leaf: Translation) -> Translation:
        """A leaf over a field with ``known``: certain only where the expression is the value."""
        if not leaf.exact:
            return leaf
        conditions = [
            spec.known
            for name in fields_of(node)
            if isinstance(spec := self.fields.get(name), SqlField) and spec.known is not None
        ]
        if not conditions:
            return leaf
        known = and_(*conditions)
        return Translation(and_(known, leaf.certain), or_(not_(known), leaf.possible), False)

    def enum(self, node: Any, name: str) -> Translation:
        """A condition on one :class:`EnumField`, decided per case by the Python evaluator."""
        spec = self.fields[name]
        assert isinstance(spec, EnumField)
        evaluator = _Evaluator(self.schema)
        surely, maybe, exact = [], [], True
        for condition, values in spec.cases:
            results = {bool(evaluator.truth(node, {name: value})) for value in values}
            if results == {True}:
                surely.append(condition)
            if True in results:
                maybe.append(condition)
            exact = exact and len(results) == 1  # every row of the case decided the same way
        return Translation(or_(false(), *surely), or_(false(), *maybe), exact)

    # -- comparisons ---------------------------------------------------------------------------------

    def compare(self, node: Compare) -> Translation:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Lit) and isinstance(right, Field):
            op, left, right = _FLIP[op], right, left
        if not (isinstance(left, Field) and isinstance(right, Lit)):
            return _UNKNOWN
        spec = self.fields.get(left.name)
        if not isinstance(spec, SqlField):
            return _UNKNOWN
        value = right.value
        if value is None:
            if op == "eq":
                return _exact(spec.expr.is_(None))
            if op == "ne":
                return _exact(spec.expr.is_not(None))
            return _exact(false())  # an ordering comparison with null is false
        if not _same_type(spec.type, value):
            return _UNKNOWN
        if spec.type == "string":
            return self._string_compare(op, spec, value)
        return _exact(_compare(op, spec.expr, value))

    def _string_compare(self, op: str, spec: SqlField, value: str) -> Translation:
        exact_eq = self.dialect in ("postgresql", "sqlite")
        if op in ("eq", "ne"):
            if spec.key is not None:
                expr, value = spec.key, spec.key_prefix + value
            else:
                expr = spec.expr
            if op == "eq":
                where = and_(expr.is_not(None), expr == value)
                return _exact(where) if exact_eq else Translation(false(), where, False)
            return _exact(or_(expr.is_(None), expr != value)) if exact_eq else _UNKNOWN
        binary = _binary(spec.expr, self.dialect)
        if binary is None:
            return _UNKNOWN
        return _exact(_compare(op, binary, value))

    # -- functions -----------------------------------------------------------------------------------

    def call(self, node: Call) -> Translation:
        if node.name not in ("contains", "startswith", "endswith") or len(node.args) != 2:
            return _UNKNOWN
        hay, needle = node.args
        if not (isinstance(hay, Field) and isinstance(needle, Lit) and isinstance(needle.value, str)):
            return _UNKNOWN
        spec = self.fields.get(hay.name)
        if not isinstance(spec, SqlField) or spec.type != "string":
            return _UNKNOWN
        text: str = needle.value
        expr = spec.expr
        present = expr.is_not(None)
        if text == "":
            return _exact(present)
        if self.dialect == "sqlite":
            if node.name == "contains":
                cond = func.instr(expr, text) > 0
            elif node.name == "startswith":
                cond = func.substr(expr, 1, len(text)) == text
            else:
                cond = func.substr(expr, -len(text)) == text
            return _exact(and_(present, cond))
        if node.name == "startswith" and spec.key is not None:
            like = spec.key.startswith(spec.key_prefix + text, autoescape=True)
        else:
            like = getattr(expr, node.name)(text, autoescape=True)
        where = and_(present, like)
        # PostgreSQL's LIKE is case-sensitive; elsewhere it may match more (possible, not certain)
        return _exact(where) if self.dialect == "postgresql" else Translation(false(), where, False)


def _same_type(field_type: str, value: Any) -> bool:
    if field_type == "string":
        return isinstance(value, str)
    if field_type in ("int", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if field_type == "datetime":
        return isinstance(value, datetime)
    return False


def _compare(op: str, expr: Any, value: Any) -> ColumnElement[bool]:
    present = expr.is_not(None)
    if op == "eq":
        return and_(present, expr == value)
    if op == "ne":
        return or_(expr.is_(None), expr != value)
    if op == "gt":
        return and_(present, expr > value)
    if op == "ge":
        return and_(present, expr >= value)
    if op == "lt":
        return and_(present, expr < value)
    return and_(present, expr <= value)

"""Neutral column types: what the engine knows about a column, independent of any database.

Each dialect reflects its native types into a :class:`ColType` and maps a :class:`ColType` back to its own
DDL, so every source/destination pair goes through one small, testable vocabulary instead of N x N rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal[
    "bool",
    "int16",
    "int32",
    "int64",
    "decimal",
    "float32",
    "float64",
    "string",
    "text",
    "date",
    "time",
    "timestamp",
    "binary",
    "json",
    "uuid",
]

_INT_RANK = {"bool": 0, "int16": 1, "int32": 2, "int64": 3}
_FLOAT_RANK = {"float32": 1, "float64": 2}


@dataclass(frozen=True)
class ColType:
    """A database-neutral column type.

    :param kind: the value domain
    :param length: max characters (``string``) or bytes (``binary``), None = unbounded
    :param precision: total digits of a ``decimal`` (None = unconstrained numeric)
    :param scale: digits after the point of a ``decimal``
    :param tz: ``timestamp`` with time zone
    """

    kind: Kind
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    tz: bool = False

    def __str__(self) -> str:
        if self.kind == "string":
            return f"string({self.length})" if self.length else "string"
        if self.kind == "decimal" and self.precision is not None:
            return f"decimal({self.precision},{self.scale or 0})"
        if self.kind == "timestamp":
            return "timestamp with time zone" if self.tz else "timestamp"
        return self.kind


@dataclass(frozen=True)
class Column:
    """A named column with its neutral type."""

    name: str
    type: ColType
    nullable: bool = True
    #: the database's own type name (e.g. ``jsonb``), "" when unknown
    native: str = ""


@dataclass(frozen=True)
class TableSchema:
    """Columns and primary key of an existing table."""

    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        low = name.lower()
        for c in self.columns:
            if c.name.lower() == low:
                return c
        return None


def widens(old: ColType, new: ColType) -> ColType | None:
    """The type a column of type ``old`` must become to also hold ``new`` values, or None if it already can.

    Only widening is ever proposed (never a narrowing or a lossy change): longer strings, more digits,
    bigger integers, float32 → float64, naive → aware timestamps are not converted. When the kinds are not
    comparable, text is the safe common type for string-like destinations.
    """
    if old == new:
        return None
    if old.kind in _INT_RANK and new.kind in _INT_RANK:
        return new if _INT_RANK[new.kind] > _INT_RANK[old.kind] else None
    if old.kind in _FLOAT_RANK and new.kind in _FLOAT_RANK:
        return new if _FLOAT_RANK[new.kind] > _FLOAT_RANK[old.kind] else None
    if old.kind == "decimal" and new.kind in _INT_RANK:
        return None
    if old.kind == "decimal" and new.kind == "decimal":
        if old.precision is None:
            return None
        if new.precision is None:
            return new
        scale = max(old.scale or 0, new.scale or 0)
        ints = max(old.precision - (old.scale or 0), new.precision - (new.scale or 0))
        if ints + scale == old.precision and scale == (old.scale or 0):
            return None
        return replace(old, precision=ints + scale, scale=scale)
    if old.kind == "string" and new.kind == "string":
        if old.length is None or (new.length is not None and new.length <= old.length):
            return None
        return new
    if old.kind == "text" and new.kind in ("string", "text", "json", "uuid"):
        return None
    if old.kind == "string" and new.kind == "text":
        return new
    if old.kind == "timestamp" and new.kind in ("timestamp", "date"):
        return None
    if old.kind == "binary" and new.kind == "binary":
        if old.length is None or (new.length is not None and new.length <= old.length):
            return None
        return new
    if old.kind == new.kind:
        return None
    return None


def parse_sql_type(text: str) -> ColType:
    """Neutral type of a type written in a ``REPLICATE`` column definition (``VARCHAR(255)``, ``INT``...).

    Unknown names become ``text`` so a statement never fails at run time for a type spelling.
    """
    import re

    t = text.strip().upper()
    m = re.search(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", t)
    p = int(m.group(1)) if m else None
    s = int(m.group(2)) if m and m.group(2) else None
    base = re.sub(r"\(.*?\)", "", t).strip()
    base = re.sub(r"\s+", " ", base)
    if base in ("BOOL", "BOOLEAN", "BIT"):
        return ColType("bool")
    if base in ("TINYINT", "SMALLINT", "INT2"):
        return ColType("int16")
    if base in ("INT", "INTEGER", "INT4", "MEDIUMINT"):
        return ColType("int32")
    if base in ("BIGINT", "INT8", "LONG"):
        return ColType("int64")
    if base in ("DECIMAL", "NUMERIC", "NUMBER", "MONEY", "DEC"):
        return ColType("decimal", precision=p, scale=(s or 0) if p is not None else None)
    if base in ("REAL", "FLOAT4"):
        return ColType("float32")
    if base in ("FLOAT", "DOUBLE", "DOUBLE PRECISION", "FLOAT8"):
        return ColType("float64")
    if base in (
        "VARCHAR",
        "CHAR",
        "NVARCHAR",
        "NCHAR",
        "CHARACTER",
        "CHARACTER VARYING",
        "VARCHAR2",
        "STRING",
    ):
        return ColType("string", length=p) if p else ColType("text")
    if base in ("TEXT", "CLOB", "NTEXT", "LONGTEXT", "MEDIUMTEXT", "TINYTEXT"):
        return ColType("text")
    if base == "DATE":
        return ColType("date")
    if base in ("TIME", "TIME WITHOUT TIME ZONE"):
        return ColType("time")
    if base in ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "DATETIMEOFFSET"):
        return ColType("timestamp", tz=True)
    if base in ("TIMESTAMP", "DATETIME", "DATETIME2", "TIMESTAMP WITHOUT TIME ZONE", "SMALLDATETIME"):
        return ColType("timestamp")
    if base in ("BLOB", "BYTEA", "BINARY", "VARBINARY", "LONGBLOB", "IMAGE"):
        return ColType("binary", length=p if base in ("BINARY", "VARBINARY") else None)
    if base in ("JSON", "JSONB"):
        return ColType("json")
    if base in ("UUID", "UNIQUEIDENTIFIER"):
        return ColType("uuid")
    return ColType("text")


def infer_type(values: list[object]) -> ColType:
    """Neutral type from sample Python values (for expressions whose type the driver does not report)."""
    from datetime import date, datetime, time
    from decimal import Decimal

    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return ColType("bool")
        if isinstance(v, int):
            return ColType("int64")
        if isinstance(v, float):
            return ColType("float64")
        if isinstance(v, Decimal):
            return ColType("decimal")
        if isinstance(v, (bytes, bytearray, memoryview)):
            return ColType("binary")
        if isinstance(v, datetime):
            return ColType("timestamp", tz=v.tzinfo is not None)
        if isinstance(v, date):
            return ColType("date")
        if isinstance(v, time):
            return ColType("time")
        if isinstance(v, (dict, list)):
            return ColType("json")
        return ColType("text")
    return ColType("text")

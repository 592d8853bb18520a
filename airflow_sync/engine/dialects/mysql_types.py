"""MySQL / MariaDB types as the engine's neutral types: table reflection (information_schema) and result-set
descriptions."""

from __future__ import annotations

import re
from typing import Any

from airflow_sync.engine.types import ColType, Column, TableSchema

_SIMPLE = {
    "smallint": ColType("int16"),
    "mediumint": ColType("int32"),
    "year": ColType("int16"),
    "float": ColType("float32"),
    "double": ColType("float64"),
    "tinytext": ColType("text"),
    "text": ColType("text"),
    "mediumtext": ColType("text"),
    "longtext": ColType("text"),
    "date": ColType("date"),
    "time": ColType("time"),
    "datetime": ColType("timestamp"),
    "timestamp": ColType("timestamp"),
    "tinyblob": ColType("binary"),
    "blob": ColType("binary"),
    "mediumblob": ColType("binary"),
    "longblob": ColType("binary"),
    "json": ColType("json"),
    "uuid": ColType("uuid"),
}
#: FIELD_TYPE codes of a result set description
FIELD_TYPES = {
    1: ColType("int16"), 2: ColType("int16"), 3: ColType("int32"), 4: ColType("float32"),
    5: ColType("float64"), 7: ColType("timestamp"), 8: ColType("int64"), 9: ColType("int32"),
    10: ColType("date"), 11: ColType("time"), 12: ColType("timestamp"),
    13: ColType("int16"), 245: ColType("json"),
}  # fmt: skip


def column_type(data_type: str, column_type: str, length: Any, precision: Any, scale: Any) -> ColType | None:
    """Neutral type of an information_schema.COLUMNS row (None for types the engine does not model)."""
    dt = data_type.lower()
    unsigned = "unsigned" in column_type.lower()
    if dt == "tinyint":
        return ColType("bool") if column_type.lower().startswith("tinyint(1)") else ColType("int16")
    if dt == "int":
        return ColType("int64") if unsigned else ColType("int32")
    if dt == "bigint":
        return ColType("decimal", precision=20, scale=0) if unsigned else ColType("int64")
    if dt == "smallint" and unsigned:
        return ColType("int32")
    if dt == "decimal":
        return ColType("decimal", precision=int(precision), scale=int(scale or 0))
    if dt in ("char", "varchar"):
        return ColType("string", length=int(length)) if length else ColType("text")
    if dt in ("enum", "set"):
        return ColType("string", length=int(length)) if length else ColType("text")
    if dt in ("binary", "varbinary"):
        return ColType("binary", length=int(length) if length else None)
    return _SIMPLE.get(dt)


def reflect_table(conn: Any, mariadb: bool, schema: str | None, name: str) -> TableSchema | None:
    """Columns (neutral types) and primary key of a table from information_schema, or None."""
    cur = conn.cursor()
    try:
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
            "NUMERIC_SCALE, IS_NULLABLE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (schema, name),
        )
        rows = cur.fetchall()
        if not rows:
            return None
        json_cols: set[str] = set()
        if mariadb:
            cur.execute(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
                (schema, name),
            )
            for (clause,) in cur.fetchall():
                m = re.fullmatch(r"\s*json_valid\(`((?:[^`]|``)+)`\)\s*", clause or "")
                if m:
                    json_cols.add(m.group(1).replace("``", "`"))
        cols = []
        for cname, dt, ctype, length, prec, scale, nullable in rows:
            t = ColType("json") if cname in json_cols else column_type(dt, ctype, length, prec, scale)
            native = dt.lower() if t else f"?{dt.lower()}"
            cols.append(Column(cname, t or ColType("text"), nullable == "YES", native))
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = "
            "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' "
            "ORDER BY ORDINAL_POSITION",
            (schema, name),
        )
        pk = tuple(r[0] for r in cur.fetchall())
    finally:
        cur.close()
    return TableSchema(tuple(cols), pk)


def describe_query(conn: Any, sql: str) -> list[tuple[str, ColType | None]]:
    """Output column names and types of a SELECT, from its result-set description."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT * FROM ({sql}) q LIMIT 0")
        out: list[tuple[str, ColType | None]] = []
        for name, code, _d, length, _i, scale, _n in cur.description:
            if code in (0, 246):
                out.append((name, ColType("decimal", precision=length, scale=scale or 0)))
            elif code in (15, 253, 254):
                out.append((name, ColType("string", length=length) if length else ColType("text")))
            elif code == 252:
                out.append((name, ColType("text")))
            else:
                out.append((name, FIELD_TYPES.get(code)))
        return out
    finally:
        cur.close()

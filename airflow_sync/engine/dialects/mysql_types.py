"""MySQL / MariaDB types as the engine's neutral types: information_schema columns and result-set codes."""

from __future__ import annotations

from typing import Any

from airflow_sync.engine.types import ColType

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

"""The statement types, for the job side's existing imports: they live in :mod:`airflow_sync.statement`,
the model module shared with the engine (which imports nothing from ``airflow_sync.jobs``)."""

from __future__ import annotations

from airflow_sync.statement import (
    ColumnDef,
    Expr,
    OptionValue,
    ReplicateStatement,
    SelectClause,
    SelectItem,
    TableRef,
    Token,
    TokenKind,
    render_expr,
)

__all__ = [
    "ColumnDef",
    "Expr",
    "OptionValue",
    "ReplicateStatement",
    "SelectClause",
    "SelectItem",
    "TableRef",
    "Token",
    "TokenKind",
    "render_expr",
]

"""Row conversion between a source and a destination: one converter per column, built once per run.

source driver value → canonical value (source dialect ``reader``) → coercion when the kinds differ →
length check / AutoTruncateStrings → destination driver value (destination dialect ``writer``).
Columns that need nothing cost nothing: when no column needs work, batches pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow_sync.engine.dialects.base import COERCE, Converter, Dialect, Row, same_family
from airflow_sync.engine.errors import redacted
from airflow_sync.engine.types import Column
from airflow_sync.exceptions import ReplicationError, TerminalReplicationError


def _compose(fns: Sequence[Converter | None]) -> Converter | None:
    real = [f for f in fns if f is not None]
    if not real:
        return None
    if len(real) == 1:
        return real[0]
    # fixed-arity closures: a loop over the steps costs a frame and an iterator per value
    if len(real) == 2:
        f, g = real
        return lambda v: g(f(v))
    if len(real) == 3:
        f, g, h = real
        return lambda v: h(g(f(v)))

    def run(v: Any) -> Any:
        for f in real:
            v = f(v)
        return v

    return run


class RowConverter:
    """Converts fetched source rows to rows for the destination's bulk path.

    :param hidden: trailing helper columns of the fetched rows (e.g. the check column) to drop
    :param auto_truncate: cut over-long strings (and count them) instead of failing
    """

    def __init__(
        self,
        src: Dialect,
        dst: Dialect,
        src_cols: Sequence[Column],
        dst_cols: Sequence[Column],
        *,
        table: str,
        use_gmt: bool,
        auto_truncate: bool,
        hidden: int = 0,
    ) -> None:
        self.table = table
        self.auto_truncate = auto_truncate
        self.truncated = 0
        self.batch_no = 0
        self.width = len(dst_cols)
        self.hidden = hidden
        self.pairs = list(zip(src_cols, dst_cols, strict=True))
        convs: list[Converter | None] = []
        #: per converted column, a check of a whole fetched column: True = its raw values may be written
        #: as they are (the destination parses their text the way the converter would convert them)
        self.shortcuts: dict[int, Callable[[Sequence[Any]], bool]] = {}
        #: some column may reach the destination as raw text its bulk path must parse (PG: text COPY)
        self.text = False
        for i, (s, d) in enumerate(zip(src_cols, dst_cols, strict=True)):
            steps: list[Converter | None] = []
            if not (src.name == dst.name and s.type == d.type and s.native == d.native):
                steps.append(src.reader(s.type, s.native))
                if not same_family(s.type, d.type):
                    steps.append(COERCE[d.type.kind])
                steps.append(self._length_check(d) if d.type.kind == "string" and d.type.length else None)
                steps.append(dst.writer(d.type, d.native, use_gmt))
            else:
                if d.type.kind == "string" and d.type.length and (s.type.length or 0) > d.type.length:
                    steps.append(self._length_check(d))
                if d.type.kind in dst.passthrough_kinds:
                    steps.append(dst.writer(d.type, d.native, use_gmt))
            convs.append(_compose(steps))
            if convs[-1] is not None:
                check = self._shortcut(src, dst, s, d)
                if check is not None:
                    self.shortcuts[i] = check
                    self.text = self.text or dst.takes_text(d.type)
        self.converters = convs
        self.active = [(i, f) for i, f in enumerate(convs) if f is not None]

    @staticmethod
    def _shortcut(src: Dialect, dst: Dialect, s: Column, d: Column) -> Callable[[Sequence[Any]], bool] | None:
        """The bulk check that lets a column skip conversion, or None."""
        if src.name == dst.name:
            return None
        if s.type.kind in ("string", "text") and d.type.kind in ("string", "text"):
            if src.reader(s.type, s.native) is not None or dst.writer(d.type, d.native, False) is not None:
                return None
            limit = d.type.length if d.type.kind == "string" else None
            return lambda col: _strings_within(col, limit)
        if not dst.takes_text(d.type):
            return None
        return src.raw_check(s.type, d.type)

    def _length_check(self, col: Column) -> Converter:
        limit = col.type.length or 0
        name = col.name

        def check(v: Any) -> Any:
            if v is None or not isinstance(v, str) or len(v) <= limit:
                return v
            if not self.auto_truncate:
                raise TerminalReplicationError(
                    f"Value too long for column '{name}' of table '{self.table}' (limit {limit} characters) "
                    f"in batch {self.batch_no}; enable AutoTruncateStrings or widen the column"
                )
            self.truncated += 1
            return v[:limit]

        return check

    @property
    def identity(self) -> bool:
        return not self.active and not self.hidden

    def convert(self, batch: list[Row]) -> list[Row]:
        """The destination rows of one fetched batch."""
        self.batch_no += 1
        if not self.active:
            if self.hidden:
                w = self.width
                return [r[:w] for r in batch]
            return batch
        # column-wise: one map() per converted column is much cheaper than indexing every row in Python
        cols: list[Any] = list(zip(*batch, strict=True))[: self.width] if batch else []
        if not cols:
            return []
        fetched = list(cols)
        for i, f in self.active:
            shortcut = self.shortcuts.get(i)
            if shortcut is None or not shortcut(cols[i]):
                cols[i] = map(f, cols[i])
        try:
            return list(zip(*cols, strict=True))
        except ReplicationError:
            raise
        except Exception as exc:
            raise self._refused(fetched, exc) from redacted(exc)

    def _refused(self, fetched: list[Any], exc: Exception) -> TerminalReplicationError:
        """The error naming the column whose converter raised ``exc`` (found by converting the batch's
        columns again), its types and the batch, never the value."""
        for i, f in self.active:
            for v in fetched[i]:
                try:
                    f(v)
                except Exception as again:
                    s, d = self.pairs[i]
                    source = s.native or s.type.kind
                    return TerminalReplicationError(
                        f"Column '{d.name}' of table '{self.table}' holds a value that cannot be written as "
                        f"{d.type.kind} (source type {source}, a {type(v).__name__} value: "
                        f"{type(again).__name__}) in batch {self.batch_no}; correct the value in the source, "
                        "or convert or leave out the column in the query"
                    )
        return TerminalReplicationError(
            f"{type(exc).__name__} while converting batch {self.batch_no} for table '{self.table}'"
        )


def _strings_within(col: Sequence[Any], limit: int | None) -> bool:
    """Every value is a str (or NULL) of at most ``limit`` characters."""
    vals = [v for v in col if v is not None]
    if not vals:
        return True
    if set(map(type, vals)) != {str}:
        return False
    return limit is None or max(map(len, vals)) <= limit


def batch_max(batch: list[Row], index: int, canon: Callable[[Any], Any] | None) -> Any:
    """Largest non-NULL value of column ``index`` in ``batch`` (canonicalised), or None."""
    vals = [r[index] for r in batch if r[index] is not None]
    if not vals:
        return None
    if canon is not None:
        vals = [canon(v) for v in vals]
    return max(vals)

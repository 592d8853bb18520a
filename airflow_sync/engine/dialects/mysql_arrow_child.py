"""The reader process of ``mysql_arrow.batches`` (docs/adr/0008): connectorx reads a MySQL query into Arrow,
each column is checked and put in the row path's form, and the batches go to stdout as an Arrow IPC stream.

A process of its own, because connectorx holds the GIL while it waits for the server (a slow query would
stall every thread of the task, a cancel included) and because its panics print the value they could not
convert on stderr, which the parent never forwards. Run by path, standalone (no ``airflow_sync`` import:
it starts in ~0.15 s). The request (URL with the password, SQL, forms, batch size) arrives as one JSON line
on stdin, never in the command line. Exit status 0; or 3 with one ``airflow_sync: ...`` line on stderr.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

#: the Arrow types each form may arrive as (unsigned integers are below 2**32: the C types the
#: reflected kinds allow; a BIGINT UNSIGNED is a decimal, read as text)
TYPES = {
    "int": frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}),
    "double": frozenset({"double"}),
    "string": frozenset({"string", "large_string"}),
    "date": frozenset({"string", "large_string"}),
    "timestamp": frozenset({"string", "large_string"}),
}
#: a date text of a zero date ('0000-00-00') or one with a zero part ('2024-00-10'): NULL on the row path
ZERO = r"^(0000|.{5}00|.{8}00)"


class Refused(Exception):
    """A column arrived in another form than asked."""


def schema(forms: list[str]) -> Any:
    import pyarrow as pa

    kinds = {"int": pa.int64(), "double": pa.float64()}
    return pa.schema([(f"c{i}", kinds.get(f, pa.string())) for i, f in enumerate(forms)])


def checked(batch: Any, forms: list[str], want: Any) -> Any:
    """``batch`` in ``want``'s types, dates and timestamps in the row path's text; :class:`Refused` when a
    column arrived in another form."""
    import pyarrow as pa

    if batch.num_columns != len(forms):
        raise Refused(f"connectorx returned {batch.num_columns} columns, not {len(forms)}")
    cols = []
    for i, (col, form) in enumerate(zip(batch.columns, forms, strict=True)):
        if str(col.type) not in TYPES[form] and col.null_count < len(col):
            raise Refused(f"column {i + 1} arrived as Arrow {col.type}, not {form}")
        col = col if col.type == want.field(i).type else col.cast(want.field(i).type)
        cols.append(as_row_path(col, form) if form in ("date", "timestamp") else col)
    return pa.RecordBatch.from_arrays(cols, schema=want)


def as_row_path(col: Any, form: str) -> Any:
    """The server's text of dates or timestamps (``form``) as the row path stores them in SQLite: Python's
    ``isoformat`` (six fraction digits, none when they are all zero), NULL for zero dates (the C extension
    reads None)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    zero = pc.match_substring_regex(col, ZERO)
    if form == "timestamp":
        # 'YYYY-MM-DD hh:mm:ss' and the column's 0-6 fraction digits
        col = pc.if_else(pc.greater(pc.utf8_length(col), 19), pc.utf8_rpad(col, 26, "0"), col)
        col = pc.if_else(pc.ends_with(col, ".000000"), pc.utf8_slice_codeunits(col, 0, 19), col)
    return pc.if_else(zero, pa.scalar(None, pa.string()), col)


def main() -> int:
    request = json.loads(sys.stdin.readline())
    forms: list[str] = request["forms"]
    try:
        import connectorx as cx
        import pyarrow as pa

        want = schema(forms)
        reader = cx.read_sql(
            request["url"], request["sql"], return_type="arrow_stream", batch_size=int(request["batch_rows"])
        )
        with pa.ipc.new_stream(sys.stdout.buffer, want) as out:
            for batch in reader:
                out.write_batch(checked(batch, forms, want))
    except Refused as exc:
        print(f"airflow_sync: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 3  # the parent stopped reading (cancel, a failed ingest)
    except BaseException as exc:  # connectorx's panics are BaseExceptions
        # its words up to the first quote only: a message may quote a value or the address
        words = re.split(r"[`'\"(]", str(exc).split("\n", 1)[0].replace(request["url"], "<url>"), maxsplit=1)[
            0
        ]
        print(
            f"airflow_sync: connectorx stopped: {type(exc).__name__}: {words.strip()}"[:300], file=sys.stderr
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The reader process of ``mysql_arrow.batches`` (docs/adr/0008): connectorx reads a MySQL query into Arrow,
and the batches go to Arrow IPC segment files as they come (the task checks them and puts them in the row
path's form).

A process of its own, because connectorx holds the GIL while it waits for the server (a slow query would
stall every thread of the task, a cancel included) and because its panics print the value they could not
convert on stderr, which the parent never forwards. Run by path, standalone (no ``airflow_sync`` import:
it starts in ~0.15 s). The request (URL with the password, SQL, batch size, spool folder) arrives as
one JSON line on stdin, never in the command line. The batches go into segment files of the spool folder
(:func:`spool` says why), each named on stdout when finished. Exit status 0; or 3 with one
``airflow_sync: ...`` line on stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any


def spool(reader: Any, folder: str, per_segment: int) -> None:
    """Write ``reader``'s batches as they come into segment files of ``per_segment`` batches in ``folder``,
    and name each finished segment on stdout (one line). connectorx reads ahead without bound while its
    consumer waits: this consumer does nothing else and never waits on the task (a file is always
    writable), so the reader's memory stays a few batches whatever the table's size; the task checks the
    batches and deletes each segment once loaded."""
    import pyarrow as pa

    out: Any = None
    name, count, segment = "", 0, 0
    for batch in reader:
        if out is None:
            name = f"segment-{segment:06d}.arrows"
            out = pa.ipc.new_stream(os.path.join(folder, name), batch.schema)
        out.write_batch(batch)
        count += 1
        if count == per_segment:
            out.close()
            print(name, flush=True)
            out, count, segment = None, 0, segment + 1
    if out is not None:
        out.close()
        print(name, flush=True)


def main() -> int:
    request = json.loads(sys.stdin.readline())
    try:
        import connectorx as cx

        reader = cx.read_sql(
            request["url"], request["sql"], return_type="arrow_stream", batch_size=int(request["batch_rows"])
        )
        spool(reader, request["spool"], int(request["segment_batches"]))
    except BrokenPipeError:
        return 3  # the parent stopped reading (cancel, a failed ingest)
    except BaseException as exc:  # connectorx's panics are BaseExceptions
        # its words up to the first quote only: a message may quote a value or the address
        first = str(exc).split("\n", 1)[0].replace(request["url"], "<url>")
        words = re.split(r"[`'\"(]", first, maxsplit=1)[0].strip()
        print(f"airflow_sync: connectorx stopped: {type(exc).__name__}: {words}"[:300], file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test hooks and path switches: the bottom of the engine's import graph, imported by every stage.

Crash-safety tests pause or fail a run at named points; other tests turn a fast path off to exercise the
path below it. Production code never sets anything here.
"""

from __future__ import annotations

from typing import Any

#: called with a point name: "batch" (after each batch is written), "staged" (all rows loaded), "merged"
#: (merge statements done), "commit" (state row written, just before COMMIT), "committed".
test_hook: Any = None

#: use same-engine copies (PG COPY pipe, SQLite INSERT ... SELECT) when types allow; tests turn it off to
#: exercise the row path between two SQLite files
IN_ENGINE_COPY = True

#: use the text pipe (engine/route.py) where it applies; tests turn it off to compare with the row path
TEXT_PIPE = True


def point(name: str) -> None:
    """Tell the test hook, if any, that the run reached ``name``."""
    if test_hook is not None:
        test_hook(name)


#: let the source render values in the destination's row-path form (engine/route.py); tests turn it off
ROW_RENDER = True

#: read SQLite sources through Arrow where it applies (engine/dialects/sqlite_arrow.py), and write SQLite
#: destinations through Arrow and a scratch file (engine/dialects/sqlite_ingest.py); tests turn it off
ARROW = True

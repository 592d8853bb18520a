"""``airflow-sync``: manage replication jobs and API tokens, and run the local demo.

The commands work against the Airflow configured in this shell (``AIRFLOW_HOME`` / ``AIRFLOW__*``
variables) and use its metadata database directly, as ``airflow`` CLI commands do. Airflow is imported
lazily: ``--help`` is instant, and ``demo`` can point Airflow at its own home before Airflow loads.

Exit codes: 0 success, 1 the command failed (invalid job, job running, not found…), 2 wrong usage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from airflow_sync.cli.parser import build_parser
from airflow_sync.exceptions import AirflowSyncError

__all__ = ["CommandError", "build_parser", "main", "out"]

_STDOUT: list[TextIO] = []


def out() -> TextIO:
    """Where command results go: the real standard output.

    While a command runs, ``sys.stdout`` points at standard error, so log lines and anything Airflow prints
    never mix with results (``TOKEN=$(airflow-sync tokens create ...)`` captures only the secret).
    """
    return _STDOUT[-1] if _STDOUT else sys.stdout


class CommandError(Exception):
    """A command failed in a way the user can act on; the message is printed, no traceback.

    :param message: what went wrong and what to do
    :param exit_code: process exit code (1 by default)
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _debug() -> bool:
    return os.environ.get("AIRFLOW_SYNC_DEBUG", "") not in ("", "0", "false", "False")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``airflow-sync`` console script.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``)
    :return: the exit code (0 ok, 1 failed, 2 usage)
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 on --help
        return int(exc.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    _STDOUT.append(sys.stdout)
    # airflow_sync's own INFO logs would repeat what the command prints
    logging.getLogger("airflow_sync").setLevel(logging.DEBUG if _debug() else logging.WARNING)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return int(handler(args) or 0)
    except CommandError as exc:
        print(f"airflow-sync: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except AirflowSyncError as exc:
        print(f"airflow-sync: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("airflow-sync: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _debug():
            raise
        print(
            f"airflow-sync: error: {type(exc).__name__}: {exc}\n"
            "(set AIRFLOW_SYNC_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        _STDOUT.pop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

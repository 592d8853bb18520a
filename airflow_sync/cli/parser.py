"""The ``airflow-sync`` argument parser (no Airflow import: ``--help`` stays instant)."""

from __future__ import annotations

import argparse
from typing import Any

ROLES = ("admin", "job_creator", "standard", "support", "viewer")

DESCRIPTION = """\
Manage airflow_sync replication jobs and API tokens, and run a local demo.

Commands use the Airflow configured in this shell (AIRFLOW_HOME and AIRFLOW__* variables) and
write to its metadata database directly, like the `airflow` CLI does.
Exit codes: 0 success, 1 the command failed, 2 wrong usage.
"""

APPLY_HELP = """\
Create or update jobs from JSON files in CData Sync's wire shape, e.g.

  {"JobName": "crm", "Source": "crm_db", "Destination": "warehouse",
   "Scheduled": "True", "ScheduledCron": "0 * * * *",
   "Query#1": "REPLICATE [Customers]",
   "Query#2": "REPLICATE [orders_recent] WITH TruncateTable=true SELECT * FROM [Orders]"}

A file holds one job, a list of jobs, or a saved GET /api.rsc/jobs response. Source and
Destination are Airflow connection ids. Every file is checked first (fields, cron, REPLICATE
syntax, connections); if anything is wrong, every problem is printed and nothing is changed.
Otherwise all jobs are written in one transaction: new jobs are created, existing ones are
replaced by the file's content (their JobId is kept), identical ones are left alone.
"""


def _handler(module: str, name: str) -> Any:
    """A handler that imports its module only when the command runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(args) or 0)

    run.__name__ = name
    return run


def _usage(parser: argparse.ArgumentParser) -> Any:
    """A handler for a command group called without a subcommand: usage to stderr, exit 2."""

    def run(_args: argparse.Namespace) -> int:
        import sys

        parser.print_help(sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="airflow-sync", description=DESCRIPTION, formatter_class=fmt)
    from airflow_sync import __version__

    parser.add_argument("--version", action="version", version=f"airflow-sync {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    # ---------------------------------------------------------------------------------------- jobs
    jobs = commands.add_parser("jobs", help="create, list, export and delete replication jobs")
    jobs.set_defaults(handler=_usage(jobs))
    jobs_cmds = jobs.add_subparsers(title="job commands", metavar="JOB_COMMAND")

    apply = jobs_cmds.add_parser(
        "apply",
        help="create or update jobs from JSON files (all or nothing)",
        description=APPLY_HELP,
        formatter_class=fmt,
    )
    apply.add_argument("files", nargs="+", metavar="FILE", help="job JSON file(s); '-' reads standard input")
    apply.add_argument(
        "--dry-run", action="store_true", help="check the files and show what would change, change nothing"
    )
    apply.set_defaults(handler=_handler("airflow_sync.cli.jobs", "cmd_apply"))

    lst = jobs_cmds.add_parser("list", help="list the stored jobs")
    lst.add_argument("--json", action="store_true", help="print JSON (one object per job) instead of a table")
    lst.set_defaults(handler=_handler("airflow_sync.cli.jobs", "cmd_list"))

    export = jobs_cmds.add_parser(
        "export",
        help="print jobs as JSON that `jobs apply` accepts back",
        description="Print one job (NAME) as a JSON object, or every job as a JSON list, in the wire "
        "shape of the job API. `airflow-sync jobs export > jobs.json` then `airflow-sync jobs apply "
        "jobs.json` restores them.",
    )
    export.add_argument("name", nargs="?", metavar="NAME", help="JobName (default: every job, as a list)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=_handler("airflow_sync.cli.jobs", "cmd_export"))

    delete = jobs_cmds.add_parser(
        "delete",
        help="delete a job (its DAG is paused, run history is kept)",
        description="Delete a job. Refused while the job has a queued or running run. The job's DAG is "
        "paused at once and disappears from the UI after the next parse; its run history is kept.",
    )
    delete.add_argument("name", metavar="NAME", help="JobName (or JobId)")
    delete.set_defaults(handler=_handler("airflow_sync.cli.jobs", "cmd_delete"))

    # -------------------------------------------------------------------------------------- tokens
    tokens = commands.add_parser("tokens", help="manage API tokens for the /api.rsc job API")
    tokens.set_defaults(handler=_usage(tokens))
    tok_cmds = tokens.add_subparsers(title="token commands", metavar="TOKEN_COMMAND")

    create = tok_cmds.add_parser(
        "create",
        help="issue a new API token (the secret is printed once)",
        description="Issue a long-lived API token for the job API (header x-cdata-authtoken). The secret "
        "is printed once, alone on standard output, so `TOKEN=$(airflow-sync tokens create ...)` works; "
        "only its hash is stored. Roles: admin (everything incl. tokens), job_creator (create/modify/"
        "delete, run, read), standard (run, read), support (cancel, read), viewer (read).",
    )
    create.add_argument("--name", required=True, help="a name for the token (who or what uses it)")
    create.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    create.set_defaults(handler=_handler("airflow_sync.cli.tokens", "cmd_create"))

    tlist = tok_cmds.add_parser("list", help="list API tokens (never their secrets)")
    tlist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tlist.set_defaults(handler=_handler("airflow_sync.cli.tokens", "cmd_list"))

    revoke = tok_cmds.add_parser("revoke", help="revoke an API token; requests using it get 401")
    revoke.add_argument("name", metavar="NAME", help="the token's name")
    revoke.set_defaults(handler=_handler("airflow_sync.cli.tokens", "cmd_revoke"))

    # ---------------------------------------------------------------------------------------- demo
    demo = commands.add_parser(
        "demo",
        help="run a local Airflow with a demo replication job (what `make demo` runs)",
        description="Set up a local Airflow in .demo/airflow (SQLite, LocalExecutor), a sample source "
        "database and an empty warehouse, start the Airflow components in the background, apply a "
        "demo job, run it and print its results. Airflow keeps running for you to explore the UI; "
        "`airflow-sync demo --stop` stops it.",
    )
    demo.add_argument("--stop", action="store_true", help="stop the demo's Airflow processes and exit")
    demo.add_argument("--port", type=int, default=8080, help="api-server / UI port on 127.0.0.1 (8080)")
    demo.add_argument(
        "--no-wait", action="store_true", help="start everything and trigger the job, but do not wait for it"
    )
    demo.add_argument(
        "--dir", default=None, metavar="DIR", help="demo directory (default: .demo in the project root)"
    )
    demo.set_defaults(handler=_handler("airflow_sync.demo.run", "cmd_demo"))
    return parser

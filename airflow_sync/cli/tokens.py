"""``airflow-sync tokens …``: thin wrappers over :mod:`airflow_sync.api.tokens`.

The secret of a new token goes alone to standard output (so ``TOKEN=$(airflow-sync tokens create …)``
captures exactly it); every message goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from types import ModuleType

from airflow_sync.cli import CommandError, out
from airflow_sync.cli.output import print_table


def _tokens() -> ModuleType:
    import importlib

    try:
        tokens = importlib.import_module("airflow_sync.api.tokens")
    except ImportError as exc:
        raise CommandError(
            f"API tokens are not available in this installation ({exc}); "
            "airflow_sync.api.tokens could not be imported"
        ) from exc
    return tokens


def cmd_create(args: argparse.Namespace) -> int:
    """``tokens create --name NAME --role ROLE``"""
    secret = _tokens().create_token(args.name, args.role)
    print(
        f"Created API token {args.name!r} with role {args.role}. The secret below is shown only once; "
        "send it as the x-cdata-authtoken header.",
        file=sys.stderr,
    )
    print(secret, file=out())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """``tokens list``"""
    rows = _tokens().list_tokens()
    if args.json:
        print(json.dumps(rows, indent=2, default=str), file=out())
        return 0
    if not rows:
        print(
            "no API tokens (create one with: airflow-sync tokens create --name NAME --role ROLE)",
            file=sys.stderr,
        )
        return 0
    print_table(
        [{**r, "revoked": "yes" if r.get("revoked") else "no"} for r in rows],
        [
            ("NAME", "name"),
            ("ROLE", "role"),
            ("CREATED", "created"),
            ("LAST USED", "last_used"),
            ("REVOKED", "revoked"),
        ],
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """``tokens revoke NAME``"""
    _tokens().revoke_token(args.name)
    print(f"revoked API token {args.name!r}", file=sys.stderr)
    return 0

"""Print the ``/api.rsc`` OpenAPI document (``python -m airflow_sync.www.openapi``): the input of the UI's
typed client (``ui/scripts/codegen.mjs``). Builds the app in-process; no server, no metadata DB."""

from __future__ import annotations

import json
import sys


def main() -> None:
    from airflow_sync.api.app import create_api_app

    json.dump(create_api_app().openapi(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

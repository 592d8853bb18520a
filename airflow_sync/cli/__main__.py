"""``python -m airflow_sync.cli`` = ``airflow-sync``."""

from __future__ import annotations

import sys

from airflow_sync.cli import main

sys.exit(main())

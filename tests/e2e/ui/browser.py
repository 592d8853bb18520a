"""Chromium from the system packages, driven by Playwright for Python (it cannot download its own browsers).

``make test`` installs Debian's ``chromium`` when it is missing (``make chromium``); here a missing browser
skips the browser tests locally and fails them in CI (``AIRFLOW_SYNC_REQUIRE_SERVICES=1``), like a service.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: screenshots of every page the browser tests visit (README: "UI screenshots")
SCREENSHOTS = Path(os.environ.get("AIRFLOW_SYNC_SCREENSHOTS", ROOT / ".artifacts" / "ui-screenshots"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (make chromium, as root: apt-get install -y chromium)"
        if os.environ.get("AIRFLOW_SYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def launch(playwright):
    """A headless Chromium from the system packages."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)

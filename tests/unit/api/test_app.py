"""The /api.rsc app factory: router inclusion, case-insensitive names, aliases (no Airflow DB needed)."""

from __future__ import annotations

import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

from airflow_sync.api import app as app_module


@pytest.fixture
def fake_routes(tmp_path, monkeypatch):
    """A package on sys.path holding resource routers, standing in for routes/{jobs,actions}.py."""
    pkg = tmp_path / "fake_rsc_routes"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "actions.py").write_text(
        textwrap.dedent(
            """
            from fastapi import APIRouter
            router = APIRouter()

            @router.post("/executeJob")
            def execute():
                return {"action": "executeJob"}

            @router.post("/getLogs")
            def logs():
                return {"action": "getLogs"}

            @router.get("/jobs({key})")
            def one(key: str):
                return {"key": key}

            @router.get("/jobs/$count")
            def count():
                return 0
            """
        )
    )
    (pkg / "broken.py").write_text("import does_not_exist_anywhere\nrouter = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fake_rsc_routes"
    for name in [m for m in sys.modules if m.startswith("fake_rsc_routes")]:
        del sys.modules[name]


def test_resource_routers_included_when_present_and_skipped_when_absent(fake_routes, monkeypatch):
    monkeypatch.setattr(
        app_module, "RESOURCE_ROUTERS", (f"{fake_routes}.actions", f"{fake_routes}.not_written_yet")
    )
    app = app_module.create_api_app()
    assert f"{fake_routes}.actions" in app.state.included_routers
    assert f"{fake_routes}.not_written_yet" not in app.state.included_routers


def test_import_error_in_an_existing_router_surfaces(fake_routes, monkeypatch):
    monkeypatch.setattr(app_module, "RESOURCE_ROUTERS", (f"{fake_routes}.broken",))
    with pytest.raises(ImportError):
        app_module.create_api_app()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/executeJob", {"action": "executeJob"}),
        ("/executejob", {"action": "executeJob"}),
        ("/EXECUTEJOB", {"action": "executeJob"}),
        ("/ExecuteJob", {"action": "executeJob"}),
        ("/getJobLog", {"action": "getLogs"}),
        ("/getlogs", {"action": "getLogs"}),
        ("/GetLogs", {"action": "getLogs"}),
    ],
)
def test_action_names_case_insensitive_and_aliases(fake_routes, monkeypatch, path, expected):
    monkeypatch.setattr(app_module, "RESOURCE_ROUTERS", (f"{fake_routes}.actions",))
    client = TestClient(app_module.create_api_app())
    r = client.post(path)
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_entity_set_name_case_insensitive_key_untouched(fake_routes, monkeypatch):
    monkeypatch.setattr(app_module, "RESOURCE_ROUTERS", (f"{fake_routes}.actions",))
    client = TestClient(app_module.create_api_app())
    assert client.get("/JOBS('MixedCase')").json() == {"key": "'MixedCase'"}
    assert client.get("/Jobs/$count").status_code == 200


def test_rewrite_respects_mount_prefix(monkeypatch):
    monkeypatch.setattr(app_module, "RESOURCE_ROUTERS", ())
    app = app_module.create_api_app()
    mw = app_module.CaseInsensitivePaths(app, app)
    scope = {"type": "http", "path": "/base/api.rsc/EXECUTEJOB", "root_path": "/base/api.rsc"}
    mw._names = {"executejob": "executeJob"}
    assert mw.rewrite(scope)["path"] == "/base/api.rsc/executeJob"
    assert mw.rewrite({**scope, "path": "/base/api.rsc/unknownThing"})["path"] == "/base/api.rsc/unknownThing"

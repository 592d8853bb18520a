"""Platform pieces against real Airflow: db-manager migration, plugin mount/gate, $metadata, OpenAPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.integration.api.conftest import API

PY = sys.executable
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_SYNC_FORCE_API"}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
            **extra,
        }
    )
    return env


def test_airflow_db_fixture_created_the_token_table(airflow_db):
    from airflow import settings
    from sqlalchemy import inspect, text

    inspector = inspect(settings.engine)
    assert "airflow_sync_api_token" in inspector.get_table_names()
    columns = {c["name"] for c in inspector.get_columns("airflow_sync_api_token")}
    assert columns == {"id", "name", "role", "token_prefix", "token_hash", "created_at", "created_by",
                       "last_used_at", "revoked_at"}  # fmt: skip
    with settings.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version_airflow_sync")).scalar()
    assert version == "c3d8e1f4a9b6"
    assert {c["name"] for c in inspector.get_columns("airflow_sync_connection_state")} == {
        "conn_id", "state", "last_tested", "message", "server_version"
    }  # fmt: skip


def test_airflow_db_migrate_creates_and_migrations_match_the_orm(tmp_path):
    """`airflow db migrate` on a fresh DB, then down to base and up again through the Alembic files."""
    env = _env(tmp_path)
    r = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    script = """
from sqlalchemy import inspect
from alembic import command
from airflow import settings
from airflow.utils.session import create_session
from airflow_sync.db.manager import AirflowSyncDBManager

TABLES = ("airflow_sync_api_token", "airflow_sync_connection_state")

def cols():
    insp = inspect(settings.engine)
    return [sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)) for t in TABLES]

from_orm = cols()
with create_session() as s:
    m = AirflowSyncDBManager(s)
    assert m.check_migration()
    m.downgrade("base")
assert not set(TABLES) & set(inspect(settings.engine).get_table_names())
with create_session() as s:
    command.upgrade(AirflowSyncDBManager(s).get_alembic_config(), "heads")
assert cols() == from_orm, (cols(), from_orm)
uniques = {tuple(u["column_names"])
           for u in inspect(settings.engine).get_unique_constraints("airflow_sync_api_token")}
assert uniques == {("name",), ("token_hash",)}, uniques
print("MIGRATIONS-OK")
"""
    r = subprocess.run([PY, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert "MIGRATIONS-OK" in r.stdout, r.stderr[-3000:]
    # a second migrate is a no-op and keeps the table
    r = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_airflow_plugins_lists_the_plugin(tmp_path):
    r = subprocess.run(
        [AIRFLOW, "plugins", "-o", "json"], env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    plugins = json.loads(r.stdout[r.stdout.index("[") :])
    mine = [p for p in plugins if p["name"] == "airflow_sync"]
    assert len(mine) == 1
    assert "airflow_sync.plugin" in json.dumps(mine[0]) or "airflow-sync" in json.dumps(mine[0])


GATE_CASES = [
    # argv[1], AIRFLOW_SYNC_FORCE_API, [airflow_sync] api_enabled -> mounted
    ("scheduler", "", "True", False),
    ("dag-processor", "", "True", False),
    ("api-server", "", "True", True),
    ("api-server", "", "False", False),
    ("tasks", "1", "True", True),
    ("tasks", "1", "False", False),
]


def test_plugin_builds_the_app_only_on_the_api_server(tmp_path):
    # one interpreter for every case (Airflow's import is the slow part): the descriptor is reset between
    script = """
import json, os, sys
import airflow_sync.plugin as p
out = []
for argv1, force, enabled in json.loads(sys.argv[1]):
    sys.argv = ["airflow", argv1]
    os.environ["AIRFLOW_SYNC_FORCE_API"] = force
    os.environ["AIRFLOW__AIRFLOW_SYNC__API_ENABLED"] = enabled
    p.AirflowSyncPlugin.__dict__["fastapi_apps"].reset()
    apps = p.AirflowSyncPlugin.fastapi_apps
    out.append(bool(apps) and apps[0]["url_prefix"] == "/api.rsc")
print("RESULT" + json.dumps(out))
"""
    cases = json.dumps([c[:3] for c in GATE_CASES])
    r = subprocess.run(
        [PY, "-c", script, cases], env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line, r.stderr[-3000:]
    assert json.loads(line[len("RESULT") :]) == [c[3] for c in GATE_CASES]


def test_plugin_module_is_import_light(tmp_path):
    script = (
        "import sys, airflow_sync.plugin\n"
        "heavy = [m for m in ('fastapi', 'airflow_sync.api.app', 'sqlalchemy.orm') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    r = subprocess.run([PY, "-c", script], env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert "airflow_sync.api.app" not in r.stdout, r.stdout


def test_metadata_lists_entity_sets_and_actions(api_client, token_headers):
    r = api_client.get(f"{API}/$metadata?workspaceId=default", headers=token_headers("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    root = ET.fromstring(r.content)
    sets = {e.get("Name") for e in root.iterfind(".//edm:EntitySet", ns)}
    actions = {e.get("Name") for e in root.iterfind(".//edm:ActionImport", ns)}
    assert {"jobs", "history", "connections", "tasks"} <= sets
    assert {"executeJob", "executeQuery", "cancelJob", "getJobStatus", "getLogs"} <= actions
    assert {"testConnection", "getConnectionTables", "getConnectionTableColumns"} <= actions
    as_json = api_client.get(f"{API}/$metadata?$format=json", headers=token_headers("viewer")).json()
    assert as_json["entitySets"]["jobs"]["key"] == "JobName"


def test_openapi_at_both_paths(api_client, token_headers):
    h = token_headers("viewer")
    doc = api_client.get(f"{API}/openapi.json", headers=h).json()
    assert doc == api_client.get(f"{API}/$oas", headers=h).json()
    assert "/tokens" in doc["paths"]
    assert set(doc["components"]["securitySchemes"]) == {"AirflowJWT", "CDataAuthToken", "BasicToken"}
    html = api_client.get(f"{API}/docs", headers=h)
    assert html.status_code == 200 and f"{API}/openapi.json" in html.text


def test_entity_set_names_case_insensitive(api_client, token_headers):
    admin = token_headers("admin")
    assert api_client.get(f"{API}/TOKENS", headers=admin).status_code == 200
    assert api_client.get(f"{API}/Tokens('missing')", headers=admin).status_code == 404
    assert api_client.get(f"{API}/$METADATA", headers=admin).status_code == 200


def test_unknown_route_is_404_envelope(api_client, token_headers):
    r = api_client.get(f"{API}/nothing/here", headers=token_headers("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_api_server_mounts_the_api(tmp_path):
    """The real `airflow api-server` process (no force switch) serves /api.rsc with tokens working."""
    import time
    import urllib.error
    import urllib.request

    env = _env(tmp_path, AIRFLOW__CORE__PLUGINS_FOLDER=str(tmp_path / "plugins"))
    r = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    make_token = "from airflow_sync.api.tokens import create_token as c;print('SECRET=' + c('live','viewer'))"
    r = subprocess.run([PY, "-c", make_token], env=env, capture_output=True, text=True, timeout=300)
    secret = next(ln[7:] for ln in r.stdout.splitlines() if ln.startswith("SECRET="))
    port = _free_port()
    log = open(tmp_path / "api-server.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api.rsc"

    def status(path: str, headers: dict[str, str] | None = None) -> int:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(base + path, headers=headers or {}), timeout=5
            ) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    try:
        deadline = time.monotonic() + 120
        while True:  # poll until the server answers (start-up takes seconds on a busy machine)
            try:
                first = status("/$metadata")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "api-server did not start"
                time.sleep(0.5)
        assert first == 401
        assert status("/$metadata", {"x-cdata-authtoken": secret}) == 200
        assert status("/TOKENS", {"x-cdata-authtoken": secret}) == 403
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

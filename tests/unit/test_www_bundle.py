"""The Sync Jobs bundle shipped in the package: present, built from the sources in ui/ as they are now, and
declared to Airflow as a react_apps nav entry that Airflow's own model accepts."""

from __future__ import annotations

import re

import pytest

from airflow_sync import www
from tests.conftest import ROOT

UI = ROOT / "ui"


def test_bundle_is_shipped_in_the_package():
    bundle = www.DIST_DIR / www.BUNDLE_NAME
    assert bundle.is_file(), "the bundle is not built: make ui-build"
    text = bundle.read_text()
    # a UMD library whose global is the one Airflow's UI reads, using the host's React/Chakra/router
    assert "AirflowPlugin" in text
    for host_global in ("React", "ReactJSXRuntime", "ChakraUI", "ReactRouterDOM"):
        assert re.search(rf"\b{host_global}\b", text), host_global


def test_bundle_is_not_older_than_its_sources():
    built = www.built_hash()
    now = www.sources_hash(UI)
    assert built == now, (
        "The shipped bundle (airflow_sync/www/dist) was built from other sources than ui/ holds now: "
        "run `make ui-build` and commit the result."
    )


def test_source_hash_changes_with_any_source_file(tmp_path):
    (tmp_path / "src").mkdir()
    for name in www.SOURCE_FILES:
        (tmp_path / name).write_text("{}")
    (tmp_path / "src" / "a.tsx").write_text("x")
    (tmp_path / "src" / "a.test.tsx").write_text("t")
    before = www.sources_hash(tmp_path)
    (tmp_path / "src" / "a.test.tsx").write_text("tests are not part of the bundle")
    assert www.sources_hash(tmp_path) == before
    (tmp_path / "src" / "a.tsx").write_text("y")
    assert www.sources_hash(tmp_path) != before


def test_react_app_entry_is_valid_for_airflow():
    pytest.importorskip("airflow.api_fastapi.core_api.datamodels.plugins")
    from airflow.api_fastapi.core_api.datamodels.plugins import ReactAppResponse

    from airflow_sync.plugin import AirflowSyncPlugin

    (entry,) = AirflowSyncPlugin.react_apps
    app = ReactAppResponse.model_validate(entry)
    assert app.destination == "nav" and entry["url_route"] == www.URL_ROUTE and entry["name"] == "Sync Jobs"
    # relative to Airflow's <base href>, served by the plugin's own app
    assert entry["bundle_url"] == f"api.rsc/ui/{www.BUNDLE_NAME}"
    assert entry["icon"] == "api.rsc/ui/icon.svg" and (www.ICONS["icon.svg"]).is_file()


def test_dag_doc_links_back_to_the_job_page():
    from airflow_sync.dags.factory import doc_md, sync_jobs_path
    from airflow_sync.jobs.model import Job

    job = Job.from_wire(
        {"JobName": "crm.v2-x", "Source": "a", "Destination": "b", "Query#1": "REPLICATE [t]"}
    )
    assert sync_jobs_path(job.name) == f"plugin/{www.URL_ROUTE}/jobs/crm.v2-x"
    assert sync_jobs_path("a b/c") == f"plugin/{www.URL_ROUTE}/jobs/a%20b%2Fc"
    assert f"[Open crm.v2-x in Sync Jobs](plugin/{www.URL_ROUTE}/jobs/crm.v2-x)" in doc_md(job)

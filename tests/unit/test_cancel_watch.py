"""Inside a query task: every COMMIT is recorded before it is sent, none is sent after a cancel request, and
the watcher turns a cancel request into an interrupted statement (issue #14)."""

from __future__ import annotations

import threading

import pytest

from airflow_sync import markers
from airflow_sync.dags.cancel_watch import CancelWatcher, CommitRecorder
from airflow_sync.engine.cancel import CancelToken
from airflow_sync.engine.replicate import run_replication
from airflow_sync.exceptions import ReplicationCancelled
from tests.unit.engine.conftest import dst, make_plan, src

__all__ = ["dst", "src"]  # the engine tests' SQLite fixtures


class FakeStore:
    """The task's state store and XCom, recording the order of writes and reads."""

    def __init__(self, previous=None):
        self.values = {markers.COMMITS_KEY: previous} if previous else {}
        self.events: list[tuple[str, str, object]] = []
        self.mirrored: list[dict] = []
        self.running = True
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            self.events.append(("get", key, self.values.get(key)))
            return self.values.get(key)

    def set(self, key, value):
        with self.lock:
            import copy

            self.values[key] = copy.deepcopy(value)
            self.events.append(("set", key, value["tries"][max(value["tries"], key=int)]["state"]))

    def mirror(self, value):
        self.mirrored.append(value)

    def still_running(self):
        return self.running


def _seed(src, n=20):
    src.run('CREATE TABLE "src" (id INTEGER PRIMARY KEY, name TEXT)')
    src.many('INSERT INTO "src" VALUES (?,?)', [(i, f"n{i}") for i in range(n)])


def test_the_commit_is_recorded_before_the_cancel_is_read_and_refused_after_it(src, dst):
    _seed(src)
    store = FakeStore()
    store.values[markers.CANCEL_KEY] = {"by": "alice"}
    recorder = CommitRecorder(store, try_number=1)
    token = CancelToken()
    recorder.attach(token)
    with pytest.raises(ReplicationCancelled):
        run_replication(make_plan(), src.url, dst.url, cancel=token)
    # Dekker order: the claim is written, then the cancel request is read (cancelJob does the reverse)
    kinds = [(e[0], e[1]) for e in store.events]
    assert kinds.index(("set", markers.COMMITS_KEY)) < kinds.index(("get", markers.CANCEL_KEY))
    entry = store.values[markers.COMMITS_KEY]["tries"]["1"]
    assert entry["state"] == "aborted" and entry["committed"]["records_affected"] == 0
    assert recorder.cancelled_by == "alice"
    assert dst.rows("SELECT COUNT(*) FROM sqlite_master WHERE name = 'src'") == [(0,)] or dst.rows(
        'SELECT COUNT(*) FROM "src"'
    ) == [(0,)]


def test_every_commit_is_recorded_and_earlier_tries_are_kept(src, dst):
    _seed(src)
    earlier = {"tries": {"1": {"state": "committed", "committed": markers.counts({"records_affected": 7})}}}
    store = FakeStore(previous=earlier)
    recorder = CommitRecorder(store, try_number=2)
    assert store.mirrored and "1" in store.mirrored[0]["tries"]  # XCom was cleared for this try: restored
    token = CancelToken()
    recorder.attach(token)
    summary = run_replication(make_plan(), src.url, dst.url, cancel=token)
    recorder.done(summary.to_dict())
    states = [e[2] for e in store.events if e[0] == "set"]
    assert states == ["committing", "committed", "done"]
    doc = store.values[markers.COMMITS_KEY]
    assert markers.records(doc) == 7 + 20 and markers.finished_load(doc, 2)
    assert not markers.finished_load(doc, 1)


def test_a_task_airflow_no_longer_runs_does_not_commit(src, dst):
    _seed(src)
    store = FakeStore()
    store.running = False  # e.g. marked failed in the Airflow UI
    token = CancelToken()
    CommitRecorder(store, try_number=1).attach(token)
    with pytest.raises(ReplicationCancelled):
        run_replication(make_plan(), src.url, dst.url, cancel=token)


def test_the_watcher_cancels_the_token_as_soon_as_the_request_appears():
    store = FakeStore()
    token = CancelToken()
    interrupted = threading.Event()
    token.register(interrupted.set)
    with CancelWatcher(store, token, interval=0.05) as watcher:
        assert not token.wait(0.2)  # nothing asked
        store.values[markers.CANCEL_KEY] = {"by": "bob"}
        assert interrupted.wait(5) and token.cancelled
    assert watcher.cancelled_by == "bob"


def hostname_of_this_worker() -> str:
    """A ``[core] hostname_callable`` naming the worker as a cluster does (not the machine's FQDN)."""
    return "worker-7.example"


def test_commit_records_name_the_host_as_airflow_names_the_task_instance(src, dst, monkeypatch):
    """History's InstanceId joins these hosts with the task instances' hostnames: one name per worker."""
    monkeypatch.setenv("AIRFLOW__CORE__HOSTNAME_CALLABLE", f"{__name__}.hostname_of_this_worker")
    _seed(src)
    store = FakeStore()
    recorder = CommitRecorder(store, try_number=1)
    token = CancelToken()
    recorder.attach(token)
    run_replication(make_plan(), src.url, dst.url, cancel=token)
    assert markers.hosts(store.values[markers.COMMITS_KEY]) == ["worker-7.example"]

"""Start, watch and stop Airflow components as background processes (one process group each).

Every component runs in its own session (``start_new_session``), so stopping its group also stops the
children it forked (uvicorn workers, LocalExecutor workers, parsing subprocesses). Pids go to a JSON
state file; a pid is only signalled when ``/proc`` still shows an ``airflow`` command behind it, so a
stale file never hits an unrelated process that reused the pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: what the demo runs: name -> airflow sub-command (the api-server gets host/port/workers added)
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}


@dataclass
class Started:
    """A component we launched.

    :param name: component name (``scheduler`` …)
    :param pid: process id (= its process group id)
    :param log: file receiving its stdout and stderr
    :param popen: the handle, when started by this process
    """

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen | None = None

    def running(self) -> bool:
        """Whether the process is still alive (not exited, not a zombie)."""
        if self.popen is not None:
            return self.popen.poll() is None
        return is_our_process(self.pid)


def is_our_process(pid: int) -> bool:
    """Whether ``pid`` is alive and runs an ``airflow <component>`` command (guards against reused pids).

    :param pid: process id
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # no procfs (macOS): trust the signal probe
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        words = (proc / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").split()
    except OSError:
        return False
    # ".../bin/airflow scheduler" (maybe behind the interpreter), or the api-server's process title
    # "airflow api_server -- host:..." (it calls setproctitle)
    names = {c[0] for c in COMPONENTS.values()} | {"api_server"}
    is_airflow = any(
        Path(w).name == "airflow" and i + 1 < len(words) and words[i + 1] in names
        for i, w in enumerate(words)
    )
    return state != "Z" and is_airflow


def start(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> Started:
    """Launch one component in the background.

    :param name: component name for messages
    :param argv: the full command
    :param env: its environment
    :param log: file for its output (appended)
    :param cwd: working directory
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        out.flush()
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(name, popen.pid, log, popen)


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the group.

    A finished component whose parent is gone stays a zombie until init reaps it, and some container inits
    never do; a signal probe would count it as alive.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren…), read from ``/proc``; empty without procfs.

    Task processes run in their own session, so signalling the component's process group misses them.

    :param pid: the ancestor
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop_groups(pids: Sequence[int], *, timeout: float = 20.0, check: bool = True) -> list[int]:
    """SIGTERM the components' process groups at once; SIGKILL what is left after ``timeout`` seconds.

    :param pids: the components' pids (= process group ids)
    :param timeout: grace period for a clean shutdown
    :param check: only act on pids that :func:`is_our_process` confirms are airflow components
    :return: the pids that were signalled
    """
    targets = [p for p in pids if not check or is_our_process(p)]
    # task processes run in their own session: the group signal misses them, so signal them directly
    strays = {c for p in targets for c in descendants(p) if _pgid(c) not in (None, *targets)}
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    _signal_airflow(strays, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = list(targets)
    while alive and time.monotonic() < deadline:
        for pid in alive:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # reap our own children so they do not linger as zombies
        alive = [p for p in alive if _group_alive(p)]
        if alive:
            time.sleep(0.2)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    _signal_airflow({p for p in strays if Path(f"/proc/{p}").exists()}, signal.SIGKILL)
    return targets


def stop_group(pid: int, *, timeout: float = 20.0, check: bool = True) -> bool:
    """:func:`stop_groups` for one component; returns whether it was signalled."""
    return bool(stop_groups([pid], timeout=timeout, check=check))


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _signal_airflow(pids: set[int], sig: signal.Signals) -> None:
    """Signal those of ``pids`` that still run an airflow process (a dead pid may have been reused)."""
    for pid in pids:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "airflow" in title:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def stop_all(started: Sequence[Started], timeout: float = 20.0) -> None:
    """Stop components (all at once; those not started by this process only after the pid check).

    :param started: the components
    :param timeout: grace period per component
    """
    ours = [p.pid for p in started if p.popen is not None]
    stop_groups(ours, timeout=timeout, check=False)
    stop_groups([p.pid for p in started if p.popen is None], timeout=timeout)


def read_state(path: Path) -> dict:
    """The state file's content, or ``{}``.

    :param path: the JSON state file
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: dict) -> None:
    """Write the state file atomically.

    :param path: the JSON state file
    :param data: what to keep
    """
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def wait_for(
    what: str,
    ready: Callable[[], bool],
    *,
    timeout: float,
    procs: Sequence[Started] = (),
    interval: float = 0.5,
    hint: str = "",
) -> float:
    """Poll ``ready()`` until it is true; fail early when one of ``procs`` died.

    :param what: description for messages
    :param ready: the condition
    :param timeout: seconds before giving up
    :param procs: components that must stay alive meanwhile
    :param interval: seconds between polls
    :param hint: appended to the timeout message (e.g. which log to read)
    :return: seconds waited
    :raises RuntimeError: timeout or a component exited
    """
    t0 = time.monotonic()
    while True:
        if ready():
            return time.monotonic() - t0
        for proc in procs:
            if not proc.running():
                raise RuntimeError(f"the {proc.name} exited while waiting for {what}; see {proc.log}")
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}. {hint}".strip())
        time.sleep(interval)


def http_ok(url: str) -> bool:
    """Whether GET ``url`` answers 200.

    :param url: the URL
    """
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file (for failure messages).

    :param path: the file
    :param lines: how many
    """
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

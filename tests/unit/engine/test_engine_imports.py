"""The engine's shape: Airflow-free (design D12), imports nothing from the job side, API or DAGs, flows one
way (no import cycle between its modules) and keeps its modules small (issue 12)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_sync.engine

ENGINE = Path(airflow_sync.engine.__path__[0])
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {"airflow_sync.engine": ENGINE / "__init__.py"}
    for m in pkgutil.walk_packages(airflow_sync.engine.__path__, "airflow_sync.engine."):
        rel = m.name.split(".")[2:]
        path = ENGINE.joinpath(*rel)
        out[m.name] = path / "__init__.py" if m.ispkg else path.with_suffix(".py")
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is (function bodies and
    ``TYPE_CHECKING`` blocks included: a cycle hidden in a function is still a cycle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # "from airflow_sync.engine import hooks" imports the module airflow_sync.engine.hooks
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def test_the_engine_imports_nothing_from_jobs_api_or_dags():
    graph = _graph()
    assert {"airflow_sync.engine.replicate", "airflow_sync.engine.dialects.postgres"} <= set(graph)
    bad = {
        (m, i)
        for m, imps in graph.items()
        for i in imps
        if i.split(".")[:2] in (["airflow_sync", "jobs"], ["airflow_sync", "api"], ["airflow_sync", "dags"])
    }
    assert not bad, sorted(bad)


def test_the_engine_import_graph_has_no_cycle():
    graph = _graph()
    # edges inside the engine, a package's __init__ excluded as a target (importing a submodule runs it
    # first, but it imports nothing of its own package: checked here too)
    edges = {m: {i for i in imps if i in graph and i != m} for m, imps in graph.items()}
    assert not edges["airflow_sync.engine"], "the package __init__ must import nothing"
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(edges[node]):
            visit(nxt, [*path, node])
        done.add(node)

    for m in sorted(edges):
        visit(m, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from airflow_sync.engine.b import g\n")
    assert "airflow_sync.engine.b" in _imports("airflow_sync.engine.a", a, {"airflow_sync.engine.b"})
    a.write_text("from airflow_sync.engine import b\n")
    assert "airflow_sync.engine.b" in _imports("airflow_sync.engine.a", a, {"airflow_sync.engine.b"})


def test_engine_modules_stay_small():
    big = {
        name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"split these modules (over {MAX_LINES} lines): {big}"


def test_no_engine_module_imports_airflow():
    modules = sorted(_modules())
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('airflow_sync.jobs', 'airflow_sync.api',"
        " 'airflow_sync.dags')))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

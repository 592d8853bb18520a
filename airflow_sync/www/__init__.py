"""The Sync Jobs app's built bundle, shipped inside the package so ``pip install`` needs no Node.

Sources live in ``ui/`` at the project root (``npm run build`` there writes ``dist/`` here). The bundle is a
UMD library that Airflow's UI loads for the ``react_apps`` entry of :mod:`airflow_sync.plugin`; it uses the
host's React, React Router, Chakra UI and Emotion (globals the Airflow UI sets), so it stays small and looks
like the rest of Airflow. ``dist/sources.sha256`` is the hash of the sources the bundle was built from; a
unit test recomputes it, so a bundle older than its sources fails the suite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

WWW_DIR = Path(__file__).resolve().parent
DIST_DIR = WWW_DIR / "dist"
BUNDLE_NAME = "sync-jobs.umd.cjs"
HASH_NAME = "sources.sha256"
ICONS = {"icon.svg": WWW_DIR / "icon.svg", "icon-dark.svg": WWW_DIR / "icon-dark.svg"}
#: url_route of the page inside Airflow's UI: ``<base>/plugin/sync-jobs``
URL_ROUTE = "sync-jobs"

#: what the bundle is built from, relative to ``ui/`` (tests are not part of the bundle)
SOURCE_FILES = ("package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
SOURCE_DIRS = ("src",)


def source_files(ui_dir: Path) -> list[Path]:
    """The files whose content decides the bundle, in a stable order (the build script uses the same)."""
    files = [ui_dir / name for name in SOURCE_FILES]
    for folder in SOURCE_DIRS:
        files += [
            p
            for p in (ui_dir / folder).rglob("*")
            if p.is_file() and ".test." not in p.name and "__snapshots__" not in p.parts
        ]
    return sorted(files, key=lambda p: p.relative_to(ui_dir).as_posix())


def sources_hash(ui_dir: Path, files: Iterable[Path] | None = None) -> str:
    """sha256 over ``<relative path>\\0<content>\\0`` of every source file, in :func:`source_files` order.

    Must stay byte-for-byte the algorithm of ``ui/scripts/source-hash.mjs``.
    """
    digest = hashlib.sha256()
    for path in files if files is not None else source_files(ui_dir):
        digest.update(path.relative_to(ui_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def built_hash() -> str | None:
    """The sources hash recorded when the shipped bundle was built (None when no bundle is shipped)."""
    path = DIST_DIR / HASH_NAME
    return path.read_text().strip() if path.is_file() else None

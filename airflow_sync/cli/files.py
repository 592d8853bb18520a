"""Reading job files for ``airflow-sync jobs apply``: JSON in CData's wire shape.

A file holds one job object, a list of job objects, or the OData envelope that ``GET /api.rsc/jobs``
returns (``{"value": [...]}``). ``@odata.*`` annotations are dropped; the response-only fields (``JobId``,
``Status``, ``DagId`` …) are left to ``Job.from_wire``, which accepts them (and keeps a valid ``JobId``), so
an export or an API response can be applied as is. Nothing here imports Airflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JobDocument:
    """One job body read from a file.

    :param path: the file as given on the command line
    :param index: position in the file's list (None when the file holds a single object)
    :param body: the wire fields (``@odata.*`` annotations removed)
    """

    path: str
    index: int | None
    body: dict[str, Any]

    @property
    def name(self) -> str | None:
        """The ``JobName`` in the body (matched case-insensitively, as the API does), if it is a string."""
        for key, value in self.body.items():
            if key.lower() == "jobname" and isinstance(value, str):
                return value
        return None

    @property
    def where(self) -> str:
        """``file``, ``file[2]`` — where the job came from, for messages."""
        return self.path if self.index is None else f"{self.path}[{self.index}]"

    def label(self) -> str:
        """``file: job NAME`` for messages."""
        return f"{self.where}: job {self.name!r}" if self.name else f"{self.where}: job without JobName"


@dataclass(frozen=True)
class Problem:
    """Something wrong with one job of one file.

    :param where: file (and list index)
    :param job: JobName, if known
    :param field: the wire field concerned, if known
    :param message: what is wrong
    """

    where: str
    job: str | None
    message: str
    field: str | None = None

    def __str__(self) -> str:
        parts = [self.where]
        if self.job:
            parts.append(f"job {self.job!r}")
        if self.field:
            parts.append(self.field)
        return ": ".join(parts) + f": {self.message}"


@dataclass
class LoadResult:
    """Every job document read, and every problem found while reading."""

    documents: list[JobDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def parse_text(text: str, path: str) -> LoadResult:
    """Parse one file's text.

    :param text: the file content
    :param path: the file name used in messages
    """
    result = LoadResult()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        result.problems.append(
            Problem(path, None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        )
        return result
    if isinstance(data, dict) and isinstance(data.get("value"), list) and "@odata.context" in data:
        data = data["value"]  # an API response saved to a file
    if isinstance(data, dict):
        items: list[tuple[int | None, Any]] = [(None, data)]
    elif isinstance(data, list):
        items = list(enumerate(data))
        if not items:
            result.problems.append(Problem(path, None, "the file holds an empty list; no job to apply"))
    else:
        result.problems.append(
            Problem(
                path, None, f"expected a JSON object (one job) or a list of jobs, got {type(data).__name__}"
            )
        )
        return result
    for index, item in items:
        where = path if index is None else f"{path}[{index}]"
        if not isinstance(item, dict):
            result.problems.append(Problem(where, None, f"expected a job object, got {type(item).__name__}"))
            continue
        body = {k: v for k, v in item.items() if not k.lower().startswith("@odata")}
        result.documents.append(JobDocument(path, index, body))
    return result


def load_files(paths: list[str]) -> LoadResult:
    """Read every file; problems are collected, never raised, so all of them can be reported at once.

    :param paths: file names; ``-`` reads standard input
    """
    import sys

    result = LoadResult()
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            result.problems.append(Problem(path, None, "no such file"))
            continue
        except IsADirectoryError:
            result.problems.append(Problem(path, None, "is a directory, expected a JSON file"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(Problem(path, None, f"cannot be read: {exc}"))
            continue
        one = parse_text(text, path)
        result.documents.extend(one.documents)
        result.problems.extend(one.problems)
    seen: dict[str, JobDocument] = {}
    for doc in result.documents:
        if doc.name is None:
            continue
        if doc.name in seen:
            result.problems.append(
                Problem(doc.where, doc.name, f"defined twice (also in {seen[doc.name].where})", "JobName")
            )
        else:
            seen[doc.name] = doc
    return result

"""``airflow-sync jobs …``: apply, list, export, delete — over the job store (metadata DB)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_sync.cli import CommandError, out
from airflow_sync.cli.files import JobDocument, Problem, load_files
from airflow_sync.cli.output import print_table
from airflow_sync.exceptions import AirflowSyncError, JobNotFoundError, JobValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job


@dataclass(frozen=True)
class Change:
    """What ``apply`` did (or would do) to one job.

    :param action: ``created``, ``updated`` or ``unchanged``
    :param job: the job as stored afterwards
    :param previous_version: the stored version before the change (None for new jobs)
    """

    action: str
    job: Job
    previous_version: str | None = None


class ApplyRefused(CommandError):
    """``apply`` found problems and changed nothing.

    :param problems: every problem found, in file order
    """

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found; nothing was changed:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))
        self.problems = problems


def _problems(doc: JobDocument, exc: Exception) -> list[Problem]:
    """One problem per cause (``JobValidationErrors`` bundles every problem of a body)."""
    causes = getattr(exc, "causes", None) or [exc]
    out = []
    for cause in causes:
        field = getattr(cause, "field", None)
        message = getattr(cause, "message", None) or str(cause)
        if field and message.startswith(f"{field}:"):  # messages often start with their field already
            message = message[len(field) + 1 :].strip()
        out.append(Problem(doc.where, doc.name, message, field))
    return out


def _missing_connections(doc: JobDocument, lookup: Callable[[str], str | None]) -> list[Problem]:
    """Source/Destination connections that do not exist, read from a body that failed validation."""
    found = []
    for key, value in doc.body.items():
        wire = {"source": "Source", "destination": "Destination"}.get(key.lower())
        if wire and isinstance(value, str) and value and lookup(value) is None:
            found.append(Problem(doc.where, doc.name, f"Airflow connection {value!r} does not exist", wire))
    return found


def parse_documents(
    docs: list[JobDocument], connection_type: Callable[[str], str | None]
) -> tuple[list[Job], list[Problem]]:
    """Validate every document: wire fields, cron, REPLICATE syntax (``Job.from_wire``), then connections.

    :param docs: the job bodies read from files
    :param connection_type: ``conn_id -> conn_type | None`` (None = no such connection)
    :return: the valid jobs and the problems of the others
    """
    from airflow_sync.jobs.model import Job, validate_connections

    jobs: list[Job] = []
    problems: list[Problem] = []
    types: dict[str, str | None] = {}

    def lookup(conn_id: str) -> str | None:
        if conn_id not in types:
            types[conn_id] = connection_type(conn_id)
        return types[conn_id]

    for doc in docs:
        try:
            job = Job.from_wire(doc.body)
        except (JobValidationError, ValueError, TypeError) as exc:
            problems.extend(_problems(doc, exc))
            problems.extend(_missing_connections(doc, lookup))  # so one run reports everything
            continue
        try:
            validate_connections(job, lookup)
        except JobValidationError as exc:
            problems.extend(_problems(doc, exc))
            continue
        jobs.append(job)
    return jobs, problems


def _existing(name: str, session: Session) -> Job | None:
    from airflow_sync.jobs import store

    try:
        return store.get_job(name, session=session)
    except JobNotFoundError:
        return None


def apply_jobs(jobs: list[Job], *, session: Session, dry_run: bool = False) -> list[Change]:
    """Create new jobs and replace changed ones inside the caller's transaction.

    :param jobs: validated jobs
    :param session: metadata DB session; the caller commits (or rolls back on error)
    :param dry_run: only compute the changes
    :raises AirflowSyncError: a write failed (job running, concurrent change…); the caller rolls back
    """
    from airflow_sync.jobs import store
    from airflow_sync.jobs.events import order_by_links

    if not dry_run:
        store.begin_write(session)
    changes = []
    for job in order_by_links(jobs):  # a job that starts another one is saved after it
        current = _existing(job.name, session)
        try:
            if current is None:
                if not dry_run:
                    job = store.create_job(job, session=session)
                changes.append(Change("created", job))
            elif current.version == job.version:
                changes.append(Change("unchanged", current, current.version))
            else:
                new = _as_update_of(job, current)
                if not dry_run:
                    new = store.update_job(new, expected_version=current.version, session=session)
                changes.append(Change("updated", new, current.version))
        except AirflowSyncError as exc:
            raise CommandError(f"job {job.name!r}: {exc}; nothing was changed") from exc
    return changes


def _as_update_of(job: Any, current: Any) -> Any:
    """``job`` (read from a file) as the new content of the stored ``current``: the JobId of a job never
    changes, and its queries that are still there keep their TaskIds (the tasks API names them)."""
    from airflow_sync.jobs.replicate import normalize_query_text
    from airflow_sync.jobs.task_ids import carried_task_ids

    ids = carried_task_ids(current.queries, current.task_ids, job.queries, normalize_query_text)
    return dataclasses.replace(job, job_id=current.job_id, task_ids=ids)


def cmd_apply(args: argparse.Namespace) -> int:
    """``jobs apply FILE...``"""
    from airflow.utils.session import create_session

    from airflow_sync.jobs.connections import connection_type

    loaded = load_files(args.files)
    jobs, problems = parse_documents(loaded.documents, connection_type)
    problems = loaded.problems + problems
    if problems:
        raise ApplyRefused(problems)
    with create_session() as session:
        changes = apply_jobs(jobs, session=session, dry_run=args.dry_run)
        if args.dry_run:
            session.rollback()
    prefix = "would be " if args.dry_run else ""
    for change in changes:
        extra = ""
        if change.action == "updated":
            extra = f" (version {change.previous_version} -> {change.job.version})"
        elif change.action == "created":
            extra = f" (DAG {change.job.dag_id()})"
        print(f"{prefix}{change.action:<9} {change.job.name}{extra}", file=out())
    counts = {a: sum(c.action == a for c in changes) for a in ("created", "updated", "unchanged")}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items())
    print(f"{'dry run, nothing changed: ' if args.dry_run else ''}{summary}", file=sys.stderr)
    return 0


def _schedule(job: Job) -> str:
    return job.scheduled_cron if job.scheduled else "manual"


def job_summary(job: Job) -> dict[str, Any]:
    """The row ``jobs list`` shows for a job."""
    return {
        "JobName": job.name,
        "JobId": job.job_id,
        "Source": job.source,
        "Destination": job.destination,
        "Schedule": _schedule(job),
        "Queries": len(job.queries),
        "Version": job.version,
        "DagId": job.dag_id(),
    }


def cmd_list(args: argparse.Namespace) -> int:
    """``jobs list``"""
    from airflow_sync.jobs import store

    jobs = store.list_jobs()
    rows = [job_summary(j) for j in jobs]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False), file=out())
        return 0
    if not rows:
        print("no jobs (create one with: airflow-sync jobs apply FILE)", file=sys.stderr)
        return 0
    print_table(
        rows,
        [
            ("NAME", "JobName"),
            ("SOURCE", "Source"),
            ("DESTINATION", "Destination"),
            ("SCHEDULE", "Schedule"),
            ("QUERIES", "Queries"),
            ("VERSION", "Version"),
        ],
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``jobs export [NAME]``"""
    from airflow_sync.jobs import store

    data: Any = store.find_job(args.name).to_wire() if args.name else [j.to_wire() for j in store.list_jobs()]
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        count = 1 if args.name else len(data)
        print(f"wrote {count} job{'s' if count != 1 else ''} to {args.output}", file=sys.stderr)
    else:
        out().write(text)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """``jobs delete NAME``"""
    from airflow.utils.session import create_session

    from airflow_sync.jobs import store

    with create_session() as session:
        job = store.find_job(args.name, session=session)
        if store.job_is_running(job.dag_id(), session=session):
            raise CommandError(
                f"job {job.name!r} has a queued or running run (DAG {job.dag_id()}); wait for it to end "
                "or cancel it, then delete again. Nothing was changed."
            )
        store.delete_job(job.name, session=session)
    print(f"deleted {job.name} (DAG {job.dag_id()} paused; run history kept)", file=out())
    return 0

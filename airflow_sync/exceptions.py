"""Domain errors of airflow_sync.

Services raise these; the API translates them to HTTP statuses at the route (400/404/409), the CLI prints
their message, and the DAG factory / operators turn replication errors into Airflow task failures or retries.
No module here imports Airflow, so the engine can use them too.
"""

from __future__ import annotations


class AirflowSyncError(Exception):
    """Base class of every error raised by airflow_sync on purpose."""

    #: short machine-readable code used in the API error envelope
    code: str = "Error"


class JobValidationError(AirflowSyncError, ValueError):
    """A job (or part of it) is invalid. Maps to HTTP 400.

    :param message: what is wrong and how to fix it (never contains secrets or row values)
    :param field: the wire field name the error is about (``ScheduledCron``, ``Query#2``...), if any
    """

    code = "InvalidJob"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ReplicateSyntaxError(JobValidationError):
    """A REPLICATE statement does not parse.

    :param query_number: 1-based number of the query in the job (``Query#N``), if known
    :param position: 0-based character offset of the error in the statement
    """

    code = "InvalidQuery"

    def __init__(self, message: str, *, position: int, query_number: int | None = None) -> None:
        where = f"Query#{query_number}: " if query_number is not None else ""
        super().__init__(
            f"{where}{message} (at position {position})",
            field=f"Query#{query_number}" if query_number is not None else None,
        )
        self.reason = message
        self.position = position
        self.query_number = query_number


class JobNotFoundError(AirflowSyncError, LookupError):
    """No job with that name (or JobId). Maps to HTTP 404."""

    code = "JobNotFound"


class JobExistsError(AirflowSyncError):
    """A job with that name already exists. Maps to HTTP 409."""

    code = "JobExists"


class JobRunningError(AirflowSyncError):
    """The job has a queued or running run, so it cannot be modified, deleted or started. HTTP 409."""

    code = "JobRunning"


class JobNotRunningError(AirflowSyncError):
    """cancelJob on a job without a queued or running run. HTTP 409."""

    code = "JobNotRunning"


class JobConflictError(AirflowSyncError):
    """A concurrent writer changed the job first (optimistic concurrency). HTTP 409."""

    code = "JobConflict"


class JobVersionMismatchError(AirflowSyncError):
    """A run was triggered for one version of a job, but the stored job has changed since (design D10)."""

    code = "JobChanged"


class ReplicationError(AirflowSyncError):
    """A replication query failed.

    :param message: names table, column and batch where known; never row values
    :param transient: True when retrying may succeed (connection reset, deadlock, serialization failure,
        lock timeout); False for terminal errors (type mismatch, missing table, constraint violation)
    """

    code = "ReplicationFailed"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class TransientReplicationError(ReplicationError):
    """A replication error that an Airflow retry may fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


class TerminalReplicationError(ReplicationError):
    """A replication error that a retry will not fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class ReplicationCancelled(ReplicationError):
    """The in-flight statement was cancelled (on_kill / cancelJob)."""

    code = "Cancelled"


class JobValidationErrors(JobValidationError):
    """Several problems found in one job body, reported together (one 400 that lists them all).

    ``field`` and ``code`` are those of the first problem, so code that only looks at one error still
    works; ``errors`` holds every ``(field, message)`` pair in the order found and ``causes`` the
    individual exceptions.

    :param causes: the individual validation errors (at least one)
    """

    def __init__(self, causes: list[JobValidationError]) -> None:
        if not causes:
            raise ValueError("JobValidationErrors needs at least one cause")
        self.causes = list(causes)
        self.errors: list[tuple[str | None, str]] = [(c.field, c.message) for c in causes]
        if len(causes) == 1:
            message = causes[0].message
        else:
            message = f"{len(causes)} problems: " + " | ".join(
                f"{i}) {c.message}" for i, c in enumerate(causes, start=1)
            )
        super().__init__(message, field=causes[0].field)
        self.code = causes[0].code

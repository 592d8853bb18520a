"""History at scale: the ``dag_run`` rows of a history request are chosen, counted, ordered and paged by the
database; only the rows of the answer (and the few the database cannot decide) are built from their task
instances, XComs and commit records.

SQL forms of the History fields (:func:`history_fields`, see :mod:`airflow_sync.api.odata_sql`): ``Id``,
``RunId``, ``JobName``, ``RunStartDate`` and ``RunType`` are plain expressions of the ``dag_run`` row.
``Status`` follows :mod:`airflow_sync.status` — a run's state, cancelJob's note, a PreJob that cancelled the
run and, for a cancelled run, whether its queries finished anyway — so it is given as cases: each
combination of run state, note and "the PreJob may have cancelled it" (its XCom says ``cancel_job`` …
``true``), with the words the status module gives for it. Most cases have one word; a cancelled run may
be ``Successful`` or ``Cancelled``, and only Python can tell which. ``RunEndDate`` is known where the case
says finished or unfinished. The words of each case come from calling the status module itself, with
every kind of facts, so a change there moves the SQL with it.

A filter or order on the fields computed from task instances and XComs (``Details``, ``RecordsAffected``,
``Runtime``, ``InstanceId``, ``JobId``, ``LogFile``) is narrowed by SQL where it can, and decided in Python
for the rest — the answer is always the Python one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_sync.api.odata import ODataQuery, apply_odata, filter_rows
from airflow_sync.api.odata_sql import EnumField, SqlField, order_by, translate
from airflow_sync.api.services.common import dag_id_for, job_name_for, prefix

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

#: History statuses of a run that has ended (RunEndDate is shown only for these)
FINISHED = frozenset({"Successful", "Failed", "Cancelled"})
#: DagRun states, by how the status module reads them (a run without a state reads as queued)
_BUCKETS = ("queued", "running", "success", "failed", "other")
#: runs evaluated per batch when Python must decide
_BATCH = 100


@functools.cache
def _case_words() -> dict[tuple[str, bool, bool], frozenset[str]] | None:
    """``(state bucket, cancelled by cancelJob, PreJob may have cancelled) -> possible History words``,
    from :mod:`airflow_sync.status` over every kind of run and query facts; None if it cannot be asked."""
    from airflow_sync import status as st

    runs = [
        {},
        {"pre_state": "failed", "pre_error": "x"},
        {"pre_state": "success", "post_state": "failed", "post_error": "x"},
        {"pre_state": "success", "post_state": "success", "notify_error": "x"},
        {"pre_state": "upstream_failed"},
    ]
    query_sets: list[list[Any]] = [[]]
    for state in (None, "none", "queued", "running", "success", "failed", "skipped", "upstream_failed"):
        for finished in (False, True):
            query_sets.append([st.QueryFacts(state=state, finished_load=finished)])
            query_sets.append(
                [st.QueryFacts(state="success"), st.QueryFacts(state=state, finished_load=finished)]
            )
    query_sets.append([st.QueryFacts(state="failed", selected=False), st.QueryFacts(state="success")])
    query_sets.append([st.QueryFacts(state="failed", error="x", tries=3, records=5)])
    out: dict[tuple[str, bool, bool], frozenset[str]] = {}
    try:
        for bucket in _BUCKETS:
            state = "~other~" if bucket == "other" else bucket
            for cancelled in (False, True):
                for prejob in (False, True):
                    words = set()
                    for extra in runs:
                        facts = st.RunFacts(
                            state=state,
                            cancelled_by="API" if cancelled else None,
                            cancel_note="Cancelled via API by x" if cancelled else None,
                            prejob_cancel="CancelJob" if prejob else None,
                            **extra,
                        )
                        words |= {st.history_word(st.run_status(facts, qs)) for qs in query_sets}
                    out[(bucket, cancelled, prejob)] = frozenset(words)
    except Exception:  # the status module changed shape: no SQL form, Python decides
        return None
    return out


@functools.cache
def prejob_runs() -> Any:
    """The runs whose PreJob may have cancelled them, as a subquery to outer-join on ``dag_run_id``: their
    PreJob result says ``cancel_job`` ... ``true`` (a superset of the runs it cancelled; the JSON text is
    matched once per request instead of once per case and row)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import Text, cast, select

    from airflow_sync.api.services.results import PRE_JOB

    return (
        select(XComModel.dag_run_id)
        .where(
            XComModel.task_id == PRE_JOB,
            XComModel.key == "return_value",
            XComModel.map_index == -1,
            cast(XComModel.value, Text).like("%cancel_job%true%"),
        )
        .subquery("prejob_cancel")
    )


@functools.cache
def run_status_cases() -> tuple[tuple[Any, frozenset[str]], ...] | None:
    """:func:`status_cases` of ``dag_run`` joined to its note and :func:`prejob_runs` (built once)."""
    from airflow.models.dagrun import DagRun, DagRunNote

    return status_cases(DagRun.state, DagRunNote.content, prejob_runs().c.dag_run_id.is_not(None))


def status_cases(state: Any, note: Any, prejob: Any) -> tuple[tuple[Any, frozenset[str]], ...] | None:
    """The ``Status`` cases of a run as SQL over its state, its note's content and whether its PreJob may
    have cancelled it (``prejob_runs().c.dag_run_id IS NOT NULL`` when outer-joined); None when the status
    module cannot be asked."""
    from sqlalchemy import and_, func, not_, or_

    from airflow_sync.api.services.runs import CANCEL_NOTE_PREFIX

    words = _case_words()
    if words is None:
        return None
    # case-sensitive on every database (SQLite's LIKE is not), like str.startswith
    cancelled = func.coalesce(func.substr(note, 1, len(CANCEL_NOTE_PREFIX)), "") == CANCEL_NOTE_PREFIX
    named = [b for b in _BUCKETS if b not in ("queued", "other")]
    buckets = {
        "queued": or_(state.is_(None), state == "queued"),
        "other": and_(state.is_not(None), state.not_in(["queued", *named])),
        **{b: and_(state.is_not(None), state == b) for b in named},
    }
    cases = []
    for bucket, in_bucket in buckets.items():
        for is_cancelled in (False, True):
            for maybe_prejob in (False, True):
                possible = words[(bucket, is_cancelled, maybe_prejob)]
                if maybe_prejob:  # the XCom test is a superset: the PreJob may not have cancelled it
                    possible |= words[(bucket, is_cancelled, False)]
                condition = and_(
                    in_bucket,
                    cancelled if is_cancelled else not_(cancelled),
                    prejob if maybe_prejob else not_(prejob),
                )
                cases.append((condition, possible))
    return tuple(cases)


def history_fields(dialect: str) -> dict[str, SqlField | EnumField]:
    """The History fields that have a SQL form over ``dag_run`` (outer-joined to ``dag_run_note``)."""
    return _history_fields(dialect, prefix())


@functools.cache
def _history_fields(dialect: str, dag_prefix: str) -> dict[str, SqlField | EnumField]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import case, false, func, or_, type_coerce

    start = type_coerce(func.coalesce(DagRun.start_date, DagRun.queued_at), DagRun.start_date.type)
    fields: dict[str, SqlField | EnumField] = {
        "Id": SqlField(DagRun.id, "int"),
        "RunId": SqlField(DagRun.run_id, "string"),
        "JobName": SqlField(
            func.substr(DagRun.dag_id, len(dag_prefix) + 1),
            "string",
            key=DagRun.dag_id,
            key_prefix=dag_prefix,
        ),
        "RunStartDate": SqlField(start, "datetime"),
        "RunType": SqlField(
            case((DagRun.run_type.in_(("scheduled", "backfill")), "scheduled"), else_="manual"), "string"
        ),
    }
    cases = run_status_cases()
    if cases is not None:
        fields["Status"] = EnumField(cases)
        ended = [cond for cond, words in cases if words <= FINISHED]
        open_ = [cond for cond, words in cases if not words & FINISHED]
        end = case((or_(false(), *ended), DagRun.end_date), else_=None)
        fields["RunEndDate"] = SqlField(
            type_coerce(end, DagRun.end_date.type), "datetime", known=or_(false(), *ended, *open_)
        )
    return fields


def _runs_from(stmt: Any) -> Any:
    """``stmt`` reading from ``dag_run`` outer-joined to its note (the note is loaded with the run) and to
    :func:`prejob_runs`."""
    from airflow.models.dagrun import DagRun, DagRunNote

    prejob = prejob_runs()
    return (
        stmt.select_from(DagRun)
        .outerjoin(DagRunNote, DagRunNote.dag_run_id == DagRun.id)
        .outerjoin(prejob, prejob.c.dag_run_id == DagRun.id)
    )


def _scope(job_name: str | None) -> Any:
    from airflow.models.dagrun import DagRun

    if job_name is not None:
        return DagRun.dag_id == dag_id_for(job_name)
    # autoescape: the default prefix contains "_", a LIKE wildcard
    return DagRun.dag_id.startswith(prefix(), autoescape=True)


def _readable_clause(
    job_name: str | None, readable: Callable[[set[str]], set[str]], *, session: Session
) -> Any:
    """The runs the caller may read: None = all of them (one auth-manager call over the DAG ids)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import false, select

    if job_name is not None:
        dag_ids = {dag_id_for(job_name)}
    else:
        dag_ids = set(session.scalars(select(DagRun.dag_id).where(_scope(None)).group_by(DagRun.dag_id)))
    allowed = readable(dag_ids)
    if allowed >= dag_ids:
        return None
    return DagRun.dag_id.in_(sorted(allowed)) if allowed else false()


def history_page(
    query: ODataQuery,
    *,
    job_name: str | None,
    readable: Callable[[set[str]], set[str]],
    jobs: Callable[[set[str]], Mapping[str, Job]],
    session: Session,
) -> tuple[list[dict[str, Any]], int | None]:
    """The History rows ``query`` asks for (filtered, ordered, paged, projected) and, with ``$count``, how
    many match — the same answer as the Python evaluation over every row, read from the database.

    :param job_name: only this job's runs (``?JobName=``)
    :param readable: the subset of the given DAG ids the caller may read
    :param jobs: the stored jobs of the given names (for JobId and the number of queries)
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    dialect = session.get_bind().dialect.name
    fields = history_fields(dialect)
    flt = translate(query.filter, fields, dialect, query.schema)
    where = [_scope(job_name), flt.possible]
    allowed = _readable_clause(job_name, readable, session=session)
    if allowed is not None:
        where.append(allowed)
    keys = order_by(query.orderby, fields, dialect)
    builder = _Builder(jobs, session)
    if keys is None:  # the order needs computed fields: Python orders every candidate
        runs = builder.runs(
            session.scalars(_runs_from(select(DagRun.id)).where(*where).order_by(DagRun.id.desc()))
        )
        rows = [builder.row(run_pk) for run_pk in runs]
        count = len(filter_rows(rows, query)) if query.count else None
        return apply_odata(rows, query), count
    # rows only Python can decide (e.g. a cancelled run: Successful or Cancelled); usually few or none
    undecided = (
        [] if flt.exact else list(session.scalars(_runs_from(select(DagRun.id)).where(*where, ~flt.certain)))
    )
    if not undecided:  # the database decides every row: it counts and pages too
        count = (
            session.scalar(_runs_from(select(func.count(DagRun.id))).where(*where)) if query.count else None
        )
        paged = _runs_from(select(DagRun.id)).where(*where).order_by(*keys, DagRun.id.desc())
        paged = paged.offset(query.skip or None)
        if query.top is not None:
            paged = paged.limit(query.top)
        page = builder.runs(session.scalars(paged))
        return _project([builder.row(pk) for pk in page], query), count
    # walk the candidates in order, deciding the undecided ones in batches, as far as the page (or $count)
    # needs
    ordered = _runs_from(select(DagRun.id)).where(*where).order_by(*keys, DagRun.id.desc())
    candidates = list(session.scalars(ordered))
    pending = set(undecided)
    wanted = None if (query.count or query.top is None) else query.skip + query.top
    matches: list[int] = []
    decided: dict[int, bool] = {}
    for i, pk in enumerate(candidates):
        if wanted is not None and len(matches) >= wanted:
            break
        if pk in pending and pk not in decided:
            # the undecided runs of the stretch the page may still need (all of them for $count)
            stretch = candidates[i:] if wanted is None else candidates[i : i + 2 * (wanted - len(matches))]
            batch = [p for p in stretch if p in pending and p not in decided][: _BATCH if wanted else None]
            for p in builder.runs(batch):
                decided[p] = bool(filter_rows([builder.row(p)], query))
        if pk not in pending or decided[pk]:
            matches.append(pk)
    count = len(matches) if query.count else None
    page = matches[query.skip :]
    if query.top is not None:
        page = page[: query.top]
    builder.runs(page)
    return _project([builder.row(pk) for pk in page], query), count


def _project(rows: list[dict[str, Any]], query: ODataQuery) -> list[dict[str, Any]]:
    return apply_odata(rows, ODataQuery(select=query.select, schema=query.schema))


class _Builder:
    """Builds History rows of runs by primary key, reading each run's facts once (in batches)."""

    def __init__(self, jobs: Callable[[set[str]], Mapping[str, Job]], session: Session) -> None:
        self.jobs = jobs
        self.session = session
        self.rows: dict[int, dict[str, Any]] = {}

    def runs(self, pks: Any) -> list[int]:
        """Build the rows of these runs (those not built yet); returns the primary keys, in order."""
        from airflow.models.dagrun import DagRun
        from sqlalchemy import select
        from sqlalchemy.orm import contains_eager

        pks = list(pks)
        todo = [pk for pk in dict.fromkeys(pks) if pk not in self.rows]
        for i in range(0, len(todo), 500):
            chunk = todo[i : i + 500]
            stmt = _runs_from(select(DagRun)).where(DagRun.id.in_(chunk))
            runs = list(self.session.scalars(stmt.options(contains_eager(DagRun.dag_run_note))))
            self.rows.update(
                zip((r.id for r in runs), _rows(runs, self.jobs, session=self.session), strict=True)
            )
        return pks

    def row(self, pk: int) -> dict[str, Any]:
        return self.rows[pk]


def _rows(runs: list[Any], jobs: Callable[[set[str]], Mapping[str, Job]], *, session: Session) -> list[dict]:
    from airflow_sync.api.services.history import history_row

    infos = load_run_infos(runs, session=session)
    names = {run.id: job_name_for(run.dag_id) for run in runs}
    stored = jobs(set(names.values()))
    now = datetime.now(UTC)
    return [history_row(infos[run.id], job=stored.get(names[run.id]), now=now) for run in runs]


#: the task instance columns History rows read (any other attribute loads the task instance itself)
_TI_COLUMNS = (
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "state",
    "try_number",
    "start_date",
    "end_date",
    "hostname",
)


class TiView:
    """A task instance's History columns, read as plain values (building 250 ``TaskInstance`` objects
    costs ~30 ms; these columns ~7 ms). Reading any other attribute loads the real task instance, so code
    written for ``TaskInstance`` keeps working."""

    __slots__ = (*_TI_COLUMNS, "_session", "_full")

    def __init__(self, row: Any, session: Session) -> None:
        for name in _TI_COLUMNS:
            setattr(self, name, getattr(row, name))
        self._session = session
        self._full: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._full is None:
            from airflow.models.taskinstance import TaskInstance
            from sqlalchemy import select

            self._full = self._session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == self.dag_id,
                    TaskInstance.run_id == self.run_id,
                    TaskInstance.task_id == self.task_id,
                    TaskInstance.map_index == self.map_index,
                )
            ).one()
        return getattr(self._full, name)


def load_run_infos(runs: list[Any], *, session: Session) -> dict[int, Any]:
    """:func:`results.load_run_info` for History pages: the same ``RunInfo`` (task instances by task id,
    XCom results, commit records), with :class:`TiView` task instances."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import and_, select

    from airflow_sync.api.services.results import RunInfo, load_run_details

    infos = {run.id: RunInfo(run) for run in runs}
    if not runs:
        return infos
    cols = [getattr(TaskInstance, name) for name in _TI_COLUMNS]
    for i in range(0, len(runs), 500):
        chunk = [run.id for run in runs[i : i + 500]]
        stmt = (
            select(DagRun.id.label("run_pk"), *cols)
            .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
            .where(DagRun.id.in_(chunk), TaskInstance.map_index == -1)
        )
        for row in session.execute(stmt):
            infos[row.run_pk].tis[row.task_id] = TiView(row, session)  # type: ignore[assignment]  # duck type
    load_run_details(infos, session=session)
    return infos


def history_entity(
    run_pk: int,
    *,
    readable: Callable[[set[str]], set[str]],
    jobs: Callable[[set[str]], Mapping[str, Job]],
    session: Session,
) -> dict[str, Any] | None:
    """The History row of one run by its ``Id`` (None when there is none the caller may read)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select
    from sqlalchemy.orm import contains_eager

    stmt = _runs_from(select(DagRun)).where(_scope(None), DagRun.id == run_pk)
    run = session.scalars(stmt.options(contains_eager(DagRun.dag_run_note))).first()
    if run is None or not readable({run.dag_id}):
        return None
    return _rows([run], jobs, session=session)[0]

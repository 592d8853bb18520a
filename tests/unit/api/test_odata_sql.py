"""``$filter`` / ``$orderby`` in SQL (:mod:`airflow_sync.api.odata_sql`) against the Python definition
(:mod:`airflow_sync.api.odata`), property-tested over generated filters on an in-memory SQLite table: an
exact translation selects exactly the rows Python keeps, a superset never loses one, and SQL order is Python
order. (PostgreSQL and the real History fields: tests/integration/api/test_history_pushdown.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sa = pytest.importorskip("sqlalchemy")

SCHEMA = {"Name": "string", "N": "int", "At": "datetime", "Note": "string", "Flag": "bool"}
NAMES = ["orders", "Orders", "a_b", "a%b", "Ünï", "", "zz", None]
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _data():
    rows = []
    for i in range(48):
        rows.append(
            {
                "id": i,
                "name": NAMES[i % len(NAMES)],
                "n": None if i % 7 == 0 else (i * 37) % 11 - 3,
                "at": None if i % 5 == 0 else BASE + timedelta(hours=i * 5, microseconds=i),
                "note": f"note {i % 3}",
            }
        )
    return rows


def _wire(row):
    return {
        "Id": str(row["id"]),
        "Name": row["name"],
        "N": None if row["n"] is None else str(row["n"]),
        "At": None if row["at"] is None else row["at"].isoformat(),
        "Note": row["note"],
        "Flag": "True" if row["id"] % 2 else "False",
    }


@pytest.fixture(scope="module")
def table():
    from airflow.utils.sqlalchemy import UtcDateTime

    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    t = sa.Table(
        "t",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20)),
        sa.Column("n", sa.Integer),
        sa.Column("at", UtcDateTime),
        sa.Column("note", sa.String(20)),
    )
    meta.create_all(engine)
    data = _data()
    with engine.begin() as conn:
        conn.execute(t.insert(), data)
    return engine, t, [_wire(r) for r in data]


def _fields(t):
    from airflow_sync.api.odata_sql import SqlField

    # Note and Flag stay Python-only: their comparisons must come back as supersets
    return {
        "Name": SqlField(t.c.name, "string"),
        "N": SqlField(t.c.n, "int"),
        "At": SqlField(t.c.at, "datetime"),
    }


LITERALS = {
    "Name": ["'orders'", "'ORDERS'", "'a_b'", "'a%b'", "'Ünï'", "''", "'o'", "null", "5", "true"],
    "N": ["0", "-3", "5", "7.5", "null", "'5'", "true"],
    "At": ["2026-03-02", "2026-03-03T05:00:00Z", "2026-03-04T10:00:00+02:00", "null", "'2026-03-02'", "3"],
    "Note": ["'note 1'", "null"],
    "Flag": ["true", "'True'"],
}
NEEDLES = ["'or'", "'OR'", "'_'", "'%'", "''", "'b'", "'Ü'", "'rs'"]


@st.composite
def conditions(draw, depth=0):
    kind = draw(st.sampled_from(["cmp", "cmp", "func", "not", "bool"] if depth < 3 else ["cmp", "func"]))
    if kind == "cmp":
        name = draw(st.sampled_from(sorted(LITERALS)))
        op = draw(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]))
        lit = draw(st.sampled_from(LITERALS[name]))
        return f"{lit} {op} {name}" if draw(st.booleans()) else f"{name} {op} {lit}"
    if kind == "func":
        fn = draw(st.sampled_from(["contains", "startswith", "endswith"]))
        field = draw(st.sampled_from(["Name", "Name", "Note", "N"]))
        return f"{fn}({field}, {draw(st.sampled_from(NEEDLES))})"
    if kind == "not":
        return f"not ({draw(conditions(depth + 1))})"
    op = draw(st.sampled_from(["and", "or"]))
    return f"({draw(conditions(depth + 1))}) {op} ({draw(conditions(depth + 1))})"


def _python_ids(rows, flt):
    from airflow_sync.api.odata import filter_rows, parse_odata

    return [r["Id"] for r in filter_rows(rows, parse_odata({"$filter": flt}, schema=SCHEMA))]


def _sql_ids(engine, t, flt, *, certain=False):
    from airflow_sync.api.odata import parse_odata
    from airflow_sync.api.odata_sql import translate

    tr = translate(parse_odata({"$filter": flt}, schema=SCHEMA).filter, _fields(t), "sqlite", SCHEMA)
    where = tr.certain if certain else tr.possible
    with engine.connect() as conn:
        ids = [str(i) for i in conn.scalars(sa.select(t.c.id).where(where).order_by(t.c.id))]
    return ids, tr.exact


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=conditions())
def test_exact_filters_select_exactly_and_the_rest_never_lose_a_row(table, flt):
    engine, t, rows = table
    python = _python_ids(rows, flt)
    sql, exact = _sql_ids(engine, t, flt)
    if exact:
        assert sql == python, flt
    else:
        assert set(python) <= set(sql), flt
    certain, _ = _sql_ids(engine, t, flt, certain=True)
    assert set(certain) <= set(python), flt


@pytest.mark.parametrize(
    ("flt", "exact"),
    [
        ("Name eq 'orders'", True),
        ("Name gt 'a'", True),
        ("contains(Name, 'a%b')", True),
        ("N ge 0 and At lt 2026-03-03", True),
        ("not (N eq null or Name eq 'zz')", True),
        ("N eq '5'", False),  # a text literal for a number: Python converts, SQL would not
        ("Note eq 'note 1'", False),  # not a SQL field
        ("tolower(Name) eq 'orders'", False),
        ("not (Note eq 'x')", False),
        ("Flag", False),
        ("true", True),
    ],
)
def test_what_is_exact(table, flt, exact):
    engine, t, rows = table
    sql, got = _sql_ids(engine, t, flt)
    assert got is exact
    if exact:
        assert sql == _python_ids(rows, flt)


@pytest.mark.parametrize("key", ["Name", "N", "At"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sql_order_is_python_order(table, key, direction):
    from airflow_sync.api.odata import apply_odata, parse_odata
    from airflow_sync.api.odata_sql import order_by

    engine, t, rows = table
    q = parse_odata({"$orderby": f"{key} {direction}"}, schema=SCHEMA)
    keys = order_by(q.orderby, _fields(t), "sqlite")
    assert keys is not None
    with engine.connect() as conn:
        # the base order of the rows is id descending; the SQL tie-breaker says so
        sql = [str(i) for i in conn.scalars(sa.select(t.c.id).order_by(*keys, t.c.id.desc()))]
    python = [r["Id"] for r in apply_odata(list(reversed(rows)), q)]
    assert sql == python
    assert order_by(parse_odata({"$orderby": "Note"}, schema=SCHEMA).orderby, _fields(t), "sqlite") is None
    assert order_by(q.orderby, _fields(t), "mysql") is None or key != "Name"


def test_status_cases_follow_the_status_module(monkeypatch):
    """Each case (run state, cancelled by cancelJob, PreJob may have cancelled) lists the words the status
    module gives; if the module cannot be asked, Status has no SQL form (filters fall back to Python)."""
    from airflow_sync import status as st
    from airflow_sync.api.services import history_sql

    words = history_sql._case_words()
    assert words is not None
    assert words[("success", False, False)] == {"Successful"}
    assert words[("failed", False, False)] == {"Failed"}
    assert words[("running", False, False)] == {"Running"}
    assert words[("queued", False, False)] == {"Queued"}
    assert words[("failed", True, False)] == {"Successful", "Cancelled"}  # the queries may have finished
    assert words[("success", False, True)] == {"Cancelled"}  # cancelled by the PreJob

    def forget():
        for cached in (history_sql._case_words, history_sql.run_status_cases, history_sql._history_fields):
            cached.cache_clear()

    forget()
    monkeypatch.setattr(st, "run_status", lambda *a: (_ for _ in ()).throw(TypeError("changed")))
    try:
        assert history_sql.status_cases(sa.literal("x"), sa.literal("y"), sa.true()) is None
        assert "Status" not in history_sql.history_fields("sqlite")
    finally:
        forget()


def test_enum_fields_decide_per_case(table):
    """A field known per row only as a set of possible values: conditions certain where every value of the
    case agrees, possible where one does; ``not`` swaps them."""
    from airflow_sync.api.odata import filter_rows, parse_odata
    from airflow_sync.api.odata_sql import EnumField, translate

    engine, t, rows = table
    kind = EnumField(
        (
            (t.c.id % 3 == 0, frozenset({"Alpha"})),
            (t.c.id % 3 == 1, frozenset({"Beta"})),
            (t.c.id % 3 == 2, frozenset({"Alpha", "Gamma"})),  # only Python knows which
        )
    )
    schema = {**SCHEMA, "Kind": "string"}
    truth = {
        str(i): ("Alpha" if i % 3 == 0 else "Beta" if i % 3 == 1 else ("Gamma" if i % 2 else "Alpha"))
        for i in range(48)
    }
    wire = [{**r, "Kind": truth[r["Id"]]} for r in rows]
    for flt in (
        "Kind eq 'Alpha'",
        "Kind ne 'Beta'",
        "startswith(Kind, 'G')",
        "not (Kind eq 'Gamma')",
        "tolower(Kind) eq 'beta'",
        "Kind eq 'Beta' or N gt 2",
        "Kind gt 'B' and not (Kind eq 'Gamma')",
    ):
        tr = translate(
            parse_odata({"$filter": flt}, schema=schema).filter,
            {**_fields(t), "Kind": kind},
            "sqlite",
            schema,
        )
        with engine.connect() as conn:
            certain = {str(i) for i in conn.scalars(sa.select(t.c.id).where(tr.certain))}
            possible = {str(i) for i in conn.scalars(sa.select(t.c.id).where(tr.possible))}
        python = {r["Id"] for r in filter_rows(wire, parse_odata({"$filter": flt}, schema=schema))}
        assert certain <= python <= possible, flt
        assert (certain == possible) if tr.exact else True, flt

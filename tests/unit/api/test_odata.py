"""$filter / $select / $orderby / $top / $skip / $count over wire rows (strings, as CData sends them)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sync.api.errors import ApiError
from airflow_sync.api.odata import apply_odata, filter_rows, parse_odata

SCHEMA = {
    "JobName": "string",
    "Status": "string",
    "RecordsAffected": "int",
    "RunStartDate": "datetime",
    "Scheduled": "bool",
    "Query#1": "string",
}
ROWS = [
    {"JobName": "orders", "Status": "Successful", "RecordsAffected": "1200",
     "RunStartDate": "2024-03-01T10:00:00+00:00", "Scheduled": "True", "Query#1": "REPLICATE a"},
    {"JobName": "O'Brien", "Status": "Failed", "RecordsAffected": "90",
     "RunStartDate": "2024-02-28T23:30:00+00:00", "Scheduled": "False", "Query#1": "REPLICATE b"},
    {"JobName": "customers", "Status": "Running", "RecordsAffected": None,
     "RunStartDate": "2024-03-02T08:00:00+01:00", "Scheduled": "False", "Query#1": ""},
]  # fmt: skip


def names(params, rows=ROWS, schema=SCHEMA):
    return [r["JobName"] for r in apply_odata(rows, parse_odata(params, schema=schema))]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("Status eq 'Failed'", ["O'Brien"]),
        ("JobName eq 'O''Brien'", ["O'Brien"]),
        ("RecordsAffected gt 100", ["orders"]),  # numeric, not "90" > "100" as text
        ("RecordsAffected le 90", ["O'Brien"]),
        ("RecordsAffected eq null", ["customers"]),
        ("RecordsAffected ne null and Status ne 'Running'", ["orders", "O'Brien"]),
        ("RunStartDate ge 2024-03-01", ["orders", "customers"]),
        ("RunStartDate lt 2024-03-01T00:00:00Z", ["O'Brien"]),
        ("RunStartDate gt datetime'2024-03-02T07:30:00'", []),  # 08:00+01:00 is 07:00Z
        ("Scheduled eq true", ["orders"]),
        ("not (Scheduled eq true)", ["O'Brien", "customers"]),
        ("contains(JobName,'er')", ["orders", "customers"]),
        ("startswith(JobName, 'cust') or endswith(JobName,'rs')", ["orders", "customers"]),
        ("tolower(Status) eq 'failed'", ["O'Brien"]),
        ("toupper(JobName) eq 'ORDERS'", ["orders"]),
        ("Status eq 'Failed' or Status eq 'Running' and JobName eq 'x'", ["O'Brien"]),  # and binds tighter
        ("(Status eq 'Failed' or Status eq 'Running') and JobName eq 'customers'", ["customers"]),
        ("Query#1 eq ''", ["customers"]),
        ("status EQ 'Failed'", ["O'Brien"]),  # field names and operators are case-insensitive
    ],
)
def test_filter(flt, expected):
    assert names({"$filter": flt}) == expected


def test_filter_without_schema_compares_by_the_literal_type():
    assert names({"$filter": "RecordsAffected gt 100"}, schema=None) == ["orders"]
    assert names({"$filter": "RunStartDate lt 2024-03-01"}, schema=None) == ["O'Brien"]


@pytest.mark.parametrize(
    ("flt", "position"),
    [
        ("Status eq", 9),
        ("Status eq 'Failed", 10),
        ("(Status eq 'x'", 14),
        ("Status eq 'x')", 13),
        ("Status = 'x'", 7),
        ("contains(JobName)", 0),
        ("Nope eq 1", 0),
        ("frobnicate(JobName) eq 1", 0),
        ("RunStartDate gt 2024-13-45", 16),
    ],
)
def test_bad_filter_is_400_naming_parameter_and_position(flt, position):
    with pytest.raises(ApiError) as err:
        parse_odata({"$filter": flt}, schema=SCHEMA)
    assert err.value.status == 400
    assert err.value.target == "$filter"
    assert err.value.message.startswith("$filter: ")
    assert f"(at position {position})" in err.value.message


def test_orderby_multiple_keys_typed():
    assert names({"$orderby": "RecordsAffected desc"}) == ["orders", "O'Brien", "customers"]
    assert names({"$orderby": "RunStartDate"}) == ["O'Brien", "orders", "customers"]
    assert names({"$orderby": "Scheduled desc, JobName asc"}) == ["orders", "O'Brien", "customers"]


def test_top_skip_select_and_count():
    q = parse_odata({"$orderby": "JobName", "$skip": "1", "$top": "1", "$select": "JobName,Status",
                     "$count": "true"}, schema=SCHEMA)  # fmt: skip
    assert apply_odata(ROWS, q) == [{"JobName": "customers", "Status": "Running"}]
    assert q.count is True
    assert len(filter_rows(ROWS, q)) == 3
    assert names({"$top": "0"}) == []


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"$top": "-1"}, "$top"),
        ({"$top": "ten"}, "$top"),
        ({"$skip": "1.5"}, "$skip"),
        ({"$select": "JobName,Nope"}, "$select"),
        ({"$select": "JobName,,Status"}, "$select"),
        ({"$orderby": "JobName sideways"}, "$orderby"),
        ({"$orderby": "Nope desc"}, "$orderby"),
        ({"$count": "maybe"}, "$count"),
    ],
)
def test_bad_options_are_400_naming_the_option(params, target):
    with pytest.raises(ApiError) as err:
        parse_odata(params, schema=SCHEMA)
    assert (err.value.status, err.value.target) == (400, target)


def test_unknown_select_without_schema_checked_against_rows():
    q = parse_odata({"$select": "Nope"})
    with pytest.raises(ApiError):
        apply_odata(ROWS, q)


def test_other_parameters_ignored():
    assert names({"workspaceId": "default", "@authtoken": "x", "$format": "json"}) == [
        "orders", "O'Brien", "customers"
    ]  # fmt: skip


def test_deep_nesting_and_long_input_are_400_not_500():
    for params in (
        {"$filter": "(" * 100 + "Status eq 'x'" + ")" * 100},
        {"$filter": "contains(" * 100 + "JobName,'a')" * 100},
        {"$filter": "Status eq '" + "x" * 9000 + "'"},
    ):
        with pytest.raises(ApiError) as err:
            parse_odata(params, schema=SCHEMA)
        assert err.value.status == 400
    # many negations are fine (no recursion): an even count cancels out
    assert names({"$filter": "not " * 190 + "Status eq 'Failed'"}) == ["O'Brien"]
    # a number literal of thousands of digits (int() refuses them: it was a 500)
    with pytest.raises(ApiError) as err:
        parse_odata({"$filter": "0" * 800}, schema=SCHEMA)
    assert (err.value.status, err.value.target) == (400, "$filter")


_ALPHABET = "()',. eqnotandorgtlcsiwh$0123456789-TZ:abJobNameStatusRecordsAffected"


@given(st.text(alphabet=_ALPHABET, max_size=80))
@settings(max_examples=400, deadline=None)
def test_any_filter_text_parses_or_is_a_400(text):
    try:
        q = parse_odata({"$filter": text}, schema=SCHEMA)
    except ApiError as err:
        assert err.status == 400 and err.target == "$filter"
        return
    apply_odata(ROWS, q)  # whatever parses also evaluates without raising


@given(
    st.dictionaries(
        st.sampled_from(["$top", "$skip", "$select", "$orderby", "$count", "x"]), st.text(max_size=20)
    )
)
@settings(max_examples=300, deadline=None)
def test_any_options_parse_or_are_a_400(params):
    try:
        q = parse_odata(params, schema=SCHEMA)
    except ApiError as err:
        assert err.status == 400
        return
    apply_odata(ROWS, q)

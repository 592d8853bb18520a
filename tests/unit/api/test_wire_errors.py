"""Body parsing, CData scalars, envelopes and the error envelope, on a bare FastAPI app (no Airflow DB)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from airflow_sync import exceptions as exc
from airflow_sync.api.errors import ApiError, install_error_handlers
from airflow_sync.api.wire import envelope, parse_entity_key, read_body, to_bool, to_int


class Body(BaseModel):
    JobName: str
    Timeout: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(request: Request):
        return await read_body(request)

    @app.post("/typed")
    def typed(body: Body):
        return body.model_dump()

    @app.get("/raise/{kind}")
    def raise_(kind: str):
        errors = {
            "validation": exc.JobValidationError("must be 5 fields", field="ScheduledCron"),
            "notfound": exc.JobNotFoundError("No job named 'x'."),
            "exists": exc.JobExistsError("exists"),
            "running": exc.JobRunningError("running"),
            "notrunning": exc.JobNotRunningError("not running"),
            "conflict": exc.JobConflictError("changed"),
            "boom": RuntimeError("secret internals /etc/passwd"),
        }
        raise errors[kind]

    @app.get("/ctx/{name}")
    def ctx(name: str, request: Request):
        return envelope(request, name, [])

    return app


@pytest.fixture(scope="module")
def client():
    return TestClient(make_app())


def test_json_and_form_bodies_give_the_same_dict(client):
    assert client.post("/echo", json={"JobName": "a", "WaitForResults": "true"}).json() == {
        "JobName": "a", "WaitForResults": "true"
    }  # fmt: skip
    r = client.post("/echo", data={"JobName": "a", "WaitForResults": "true", "@authtoken": "s3cret"})
    assert r.json() == {"JobName": "a", "WaitForResults": "true"}  # the credential never reaches the route
    assert client.post("/echo", content=b"").json() == {}


@pytest.mark.parametrize(
    "raw", [b"{nope", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 200_000, b'{"a":' * 100_000]
)
def test_bad_json_is_400(client, raw):
    r = client.post("/echo", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "InvalidBody"


def test_body_over_limit_is_413_by_header_and_by_stream(client, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AIRFLOW_SYNC__MAX_BODY_BYTES", "100")
    big = json.dumps({"JobName": "x" * 200}).encode()
    r = client.post("/echo", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PayloadTooLarge"

    def chunks():  # no Content-Length: only the streamed size can catch it
        for _ in range(5):
            yield b" " * 30

    r = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.post("/echo", json={"JobName": "ok"}).status_code == 200


def test_validation_error_is_400_naming_the_field(client):
    r = client.post("/typed", json={"JobName": "a", "Timeout": "soon"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["target"] == "Timeout" and "Timeout" in err["message"]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("validation", 400, "InvalidJob"),
        ("notfound", 404, "JobNotFound"),
        ("exists", 409, "JobExists"),
        ("running", 409, "JobRunning"),
        ("notrunning", 409, "JobNotRunning"),
        ("conflict", 409, "JobConflict"),
    ],
)
def test_domain_errors_map_to_status_and_code(client, kind, status, code):
    r = client.get(f"/raise/{kind}")
    assert r.status_code == status
    assert r.json()["error"]["code"] == code


def test_validation_message_names_the_field(client):
    err = client.get("/raise/validation").json()["error"]
    assert err["target"] == "ScheduledCron" and "ScheduledCron" in err["message"]


def test_unexpected_error_is_500_without_internals(client):
    r = client.get("/raise/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "InternalError"
    assert "passwd" not in r.text and "Traceback" not in r.text


def test_unknown_route_404_and_wrong_method_405_in_envelope(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    r = client.delete("/echo")
    assert r.status_code == 405 and r.json()["error"]["code"] == "MethodNotAllowed"
    assert r.headers["allow"] == "POST"


def test_envelope_context(client):
    assert client.get("/ctx/history").json()["@odata.context"] == "http://testserver/$metadata#history"
    assert (
        client.get("/ctx/executeJob").json()["@odata.context"]
        == "http://testserver/$metadata#Collection(CData.executeJobOutput)"
    )


@pytest.mark.parametrize("value", [True, "True", "true", "TRUE", "1", 1, " yes "])
def test_to_bool_true(value):
    assert to_bool(value, field="WaitForResults") is True


@pytest.mark.parametrize("value", [False, "False", "false", "0", 0, "no"])
def test_to_bool_false(value):
    assert to_bool(value, field="WaitForResults") is False


@pytest.mark.parametrize("value", ["maybe", 2, [], {}, 1.5])
def test_to_bool_rejects(value):
    with pytest.raises(ApiError) as err:
        to_bool(value, field="WaitForResults")
    assert (err.value.status, err.value.target) == (400, "WaitForResults")


def test_to_bool_and_int_defaults():
    assert to_bool(None, field="X", default=True) is True
    assert to_int(None, field="Timeout", default=0) == 0
    # blank text is not absent: the documented schema does not allow it, so neither does the server
    with pytest.raises(ApiError):
        to_bool("", field="X", default=False)
    with pytest.raises(ApiError):
        to_int(None, field="Timeout")


@pytest.mark.parametrize(("value", "expected"), [(500, 500), ("500", 500), (" 7 ", 7), (3.0, 3), ("7\n", 7)])
def test_to_int(value, expected):
    assert to_int(value, field="Timeout") == expected


@pytest.mark.parametrize("value", ["abc", True, 1.5, "1e999", "", float("nan"), "2.0", "+5", "05", "-1"])
def test_to_int_rejects(value):
    with pytest.raises(ApiError) as err:
        to_int(value, field="Days")
    assert (err.value.status, err.value.target) == (400, "Days")


def test_to_int_bounds():
    with pytest.raises(ApiError, match="from 1 to 9"):
        to_int("0", field="Days", minimum=1, maximum=9)
    with pytest.raises(ApiError, match="from 1 to 9"):
        to_int(10, field="Days", minimum=1, maximum=9)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("orders", "orders"), ("'orders'", "orders"), ("JobName='orders'", "orders"),
     ("jobname='O''Brien'", "O'Brien"), (" 'a b' ", "a b")],
)  # fmt: skip
def test_entity_keys(raw, expected):
    assert parse_entity_key(raw, "JobName") == expected


@pytest.mark.parametrize("raw", ["''", "'unterminated", "Other='x'", "'a'b'", ""])
def test_bad_entity_keys(raw):
    with pytest.raises(ApiError) as err:
        parse_entity_key(raw, "JobName")
    assert err.value.status == 400

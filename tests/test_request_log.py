"""Request logs (issue 16, item 3): one line per request on stdout, as an operator reads it.

Each test makes requests through the test client and reads what the ``tessera.request``
logger wrote to stdout (JSON by default, ``LOG_FORMAT = "text"`` for people), next to the
``X-Request-ID`` each response carried.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.config import ConfigError
from tests.helpers import AuthActions
from tests.oauth.helpers import OAuthActions, RegisteredClient

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines written since the last call (every stdout line must be one)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def only_line(capsys: pytest.CaptureFixture[str], response: TestResponse) -> dict[str, Any]:
    written = lines(capsys)
    assert len(written) == 1, written
    assert written[0]["request_id"] == response.headers["X-Request-ID"]
    return written[0]


def test_an_api_call_logs_its_route_client_subject_status_and_duration(
    client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    token = oauth.tokens_for(conf, scope="openid photos.read")["access_token"]
    capsys.readouterr()

    response = client.get(
        "/api/v1/photos?limit=5&secret-looking=hunter2",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200
    line = only_line(capsys, response)
    assert list(line)[:3] == ["timestamp", "level", "logger"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    assert line | {"timestamp": "t", "duration_ms": 0} == {
        "timestamp": "t", "level": "INFO", "logger": "tessera.request",
        "request_id": response.headers["X-Request-ID"], "method": "GET",
        "route": "/api/v1/photos", "status": 200, "duration_ms": 0,
        "client_id": conf.client_id, "sub": str(bob.id),
    }  # fmt: skip
    assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 10_000


def test_the_route_is_the_url_rule_never_the_raw_path_or_query(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/api/v1/photos/123456789?access_token=leaked-value")

    line = only_line(capsys, response)
    assert line["route"] == "/api/v1/photos/<photo_id>"
    assert line["status"] == 401 and line["error"] == "invalid_token"
    raw = json.dumps(line)
    assert "123456789" not in raw and "leaked-value" not in raw and "access_token" not in raw


def test_an_unmatched_path_logs_no_route(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/no/such/page-with-a-name")

    line = only_line(capsys, response)
    assert line["route"] is None and line["status"] == 404 and line["error"] == "not_found"
    assert "page-with-a-name" not in json.dumps(line)


@pytest.mark.parametrize("incoming", ["abc", "a" * 128, "req-1.2_3:4", "0f8fad5b-d9cb-469f"])
def test_a_safe_incoming_request_id_is_kept_and_echoed(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], incoming: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] == incoming
    assert only_line(capsys, response)["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["a" * 129, "two words", '","level":"ERROR', "id\tx", "café", "a/b", "<script>", "a=b"],
)
def test_an_unsafe_incoming_request_id_is_replaced_and_never_logged(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], incoming: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    echoed = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(echoed)
    out = capsys.readouterr().out
    assert incoming not in out and json.loads(out)["request_id"] == echoed


def test_without_an_incoming_id_each_request_gets_a_fresh_one(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [client.get("/healthz").headers["X-Request-ID"] for _ in range(3)]

    assert all(GENERATED_ID.fullmatch(value) for value in ids)
    assert len(set(ids)) == 3
    assert [line["request_id"] for line in lines(capsys)] == ids


def test_the_token_endpoint_logs_the_authenticated_client_and_its_errors(
    client: FlaskClient, oauth: OAuthActions, cc: RegisteredClient,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    issued = oauth.token(cc, grant_type="client_credentials", scope="photos.read")
    assert issued.status_code == 200
    line = only_line(capsys, issued)
    assert (line["route"], line["status"], line["client_id"]) == ("/token", 200, cc.client_id)
    assert "sub" not in line and "error" not in line  # a client's own token acts for no user

    wrong = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + "d3Jvbmc6c2VjcmV0"},  # wrong:secret
    )
    line = only_line(capsys, wrong)
    assert (line["status"], line["error"]) == (401, "invalid_client")
    assert "client_id" not in line  # named, not authenticated

    bad_grant = oauth.token(cc, grant_type="refresh_token", refresh_token="nope")
    line = only_line(capsys, bad_grant)
    assert line["client_id"] == cc.client_id and line["error"] == bad_grant.json["error"]  # type: ignore[index]


def test_a_page_logs_the_signed_in_users_sub(
    client: FlaskClient, auth: AuthActions, bob: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_in = auth.login()  # GET /login, then POST /login
    assert signed_in.status_code == 303
    form, post = lines(capsys)
    assert "sub" not in form
    assert (post["method"], post["route"], post["sub"]) == ("POST", "/login", str(bob.id))

    page = client.get("/account/apps")
    line = only_line(capsys, page)
    assert (line["route"], line["status"], line["sub"]) == ("/account/apps", 200, str(bob.id))
    assert "client_id" not in line


def test_a_failed_sign_in_logs_no_user_and_nothing_typed(
    client: FlaskClient, auth: AuthActions, bob: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = auth.login(password="not-the-password-xyz")
    assert failed.status_code == 200
    out = capsys.readouterr().out
    assert "not-the-password-xyz" not in out and "bob" not in out
    assert all("sub" not in json.loads(line) for line in out.splitlines())


@pytest.fixture
def broken_app(app_config: dict[str, Any], instance_path: Any) -> Flask:
    """The real app plus a route that fails the way a bug would."""
    app = create_app(app_config)

    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/boom/<int:n>", "api_boom", explode)
    return app


def test_a_view_that_raises_still_gets_its_line_and_header(
    broken_app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    response = broken_app.test_client().get("/api/v1/boom/7", headers={"X-Request-ID": "r-500"})

    assert response.status_code == 500 and response.headers["X-Request-ID"] == "r-500"
    line = only_line(capsys, response)
    assert (line["level"], line["route"], line["status"]) == ("ERROR", "/api/v1/boom/<int:n>", 500)
    assert line["error"] == "server_error"


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT_PER_IP="1 per minute")
def test_a_throttled_request_gets_its_line_and_header(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    form = {"grant_type": "client_credentials"}
    statuses = [client.post("/token", data=form).status_code for _ in range(2)]
    throttled = client.post("/token", data=form, headers={"X-Request-ID": "r-429"})

    assert statuses == [401, 429] and throttled.status_code == 429
    assert throttled.headers["X-Request-ID"] == "r-429"
    written = lines(capsys)
    assert [line["status"] for line in written] == [401, 429, 429]
    assert written[-1]["request_id"] == "r-429" and written[-1]["error"] == "too_many_requests"


# The value of tests/test_request_hooks.py: flask-limiter's module-wide Limiter keeps the first
# app-wide limit a test process configures, so another value here would depend on test order.
@pytest.mark.limits(RATELIMIT_DEFAULT="2 per minute")
def test_a_request_the_limiters_hook_refuses_gets_its_line_and_header(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [client.get("/healthz") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    written = lines(capsys)
    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert [line["request_id"] for line in written] == ids
    assert written[2] | {"duration_ms": 0, "timestamp": "t", "request_id": "r"} == {
        "timestamp": "t", "level": "INFO", "logger": "tessera.request", "request_id": "r",
        "method": "GET", "route": "/healthz", "status": 429, "duration_ms": 0,
        "error": "too_many_requests",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/login", {"username": "x" * 200_000}, 413, "request_too_large"),
        ("/login", {"username": "a\x00b"}, 400, "invalid_request"),
    ],
)
def test_a_request_refused_before_its_view_gets_its_line_and_header(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], path: str, body: dict[str, str],
    status: int, error: str,
) -> None:  # fmt: skip
    response = client.post(path, data=body)

    assert response.status_code == status
    line = only_line(capsys, response)
    assert (line["route"], line["status"], line["error"]) == (path, status, error)


@pytest.mark.limits(LOG_FORMAT="text")
def test_the_text_format_is_one_readable_line(
    client: FlaskClient, oauth: OAuthActions, cc: RegisteredClient,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    client.get("/no-such-page", headers={"X-Request-ID": "r-1"})
    oauth.token(cc, grant_type="client_credentials", scope="photos.read")

    missing, issued = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:.]+Z INFO GET - 404 [\d.]+ ms error=not_found request_id=r-1",
        missing,
    ), missing
    assert re.fullmatch(
        rf"\S+Z INFO POST /token 200 [\d.]+ ms client_id={cc.client_id} request_id=[0-9a-f]{{32}}",
        issued,
    ), issued


@pytest.mark.limits(REQUEST_LOG=False)
def test_request_logging_can_be_switched_off(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "r-off"})

    assert response.status_code == 200
    assert "X-Request-ID" not in response.headers
    assert capsys.readouterr().out == ""


def test_an_unknown_log_format_stops_the_start(
    app_config: dict[str, Any], instance_path: Any
) -> None:
    with pytest.raises(ConfigError, match="^LOG_FORMAT: use one of json, text$"):
        create_app(app_config | {"LOG_FORMAT": "yaml"})


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def operator_handler() -> Iterator[_Collect]:
    """A handler an operator's logging config gave ``tessera.request`` (shipping to a file,
    syslog, ...); removed afterwards, with the logger's level."""
    logger = logging.getLogger("tessera.request")
    handler, level = _Collect(), logger.level
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_an_operators_handler_gets_log_records_with_levels(
    broken_app: Flask, operator_handler: _Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    client = broken_app.test_client()
    ok = client.get("/healthz", headers={"X-Request-ID": "r-ok"})
    failed = client.get("/api/v1/boom/1", headers={"X-Request-ID": "r-bad"})

    assert (ok.status_code, failed.status_code) == (200, 500)
    shipped = [(r.name, r.levelname, json.loads(r.getMessage())) for r in operator_handler.records]
    assert [(name, level, line["request_id"]) for name, level, line in shipped] == [
        ("tessera.request", "INFO", "r-ok"), ("tessera.request", "ERROR", "r-bad"),
    ]  # fmt: skip

    logging.getLogger("tessera.request").setLevel(logging.ERROR)  # the operator wants errors only
    operator_handler.records.clear()
    capsys.readouterr()
    client.get("/healthz")
    client.get("/api/v1/boom/2")
    assert [r.levelname for r in operator_handler.records] == ["ERROR"]
    assert [json.loads(x)["status"] for x in capsys.readouterr().out.splitlines()] == [500]

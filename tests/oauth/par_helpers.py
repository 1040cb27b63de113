"""Helpers for pushed authorization requests (RFC 9126): push, then follow /authorize."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import AuthorizationCode, PushedRequest
from app.security import hash_token
from tests.oauth.helpers import FlowResult, OAuthActions, RegisteredClient, query_of

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@dataclass
class Pushed:
    request_uri: str
    verifier: str
    params: dict[str, Any]

    def path(self, client_id: str, **extra: str) -> str:
        return "/authorize?" + urlencode(
            {"client_id": client_id, "request_uri": self.request_uri} | extra
        )


def push_raw(
    oauth: OAuthActions, client: RegisteredClient, **params: Any
) -> tuple[TestResponse, dict[str, Any], str]:
    """POST /par with a full authorization request (overridable; None drops a field)."""
    query, verifier = oauth.authorize_params(client, **params)
    return oauth.post("/par", client, **query), query, verifier


def push(oauth: OAuthActions, client: RegisteredClient, **params: Any) -> Pushed:
    response, query, verifier = push_raw(oauth, client, **params)
    assert response.status_code == 201, response.get_data(as_text=True)
    return Pushed(response.json["request_uri"], verifier, query)  # type: ignore[index]


def follow(
    oauth: OAuthActions, client: RegisteredClient, pushed: Pushed, decision: str = "allow",
    username: str = "bob", **extra: str,
) -> TestResponse:  # fmt: skip
    """Present the request_uri at /authorize; sign in and decide as the user would."""
    path = pushed.path(client.client_id, **extra)
    response = oauth.http.get(path)
    if response.status_code == 302 and response.headers["Location"].startswith("/login"):
        oauth.sign_in(username)
        response = oauth.http.get(path)
    if response.status_code == 200:
        response = oauth.decide(response, path, decision=decision)
    return response


def flow_result(response: TestResponse, pushed: Pushed) -> FlowResult:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return FlowResult(response, query_of(response.headers["Location"]), pushed.verifier)


def row_of(app: Flask, request_uri: str) -> PushedRequest:
    with app.app_context():
        row = db.session.get(PushedRequest, hash_token(request_uri))
        assert row is not None
        db.session.expunge(row)
        return row


def set_row(app: Flask, request_uri: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(
            update(PushedRequest)
            .where(PushedRequest.request_uri_hash == hash_token(request_uri))
            .values(**values)
        )
        db.session.commit()


def code_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(AuthorizationCode)) or 0)


def assert_error_page(response: TestResponse, error: str) -> None:
    """Shown to the user, never redirected (RFC 6749 §4.1.2.1)."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert error in response.get_data(as_text=True)

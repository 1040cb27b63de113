"""Helpers that play a dynamically registering client (RFC 7591, RFC 7592) and its operator."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import Client
from tests.oauth.helpers import RegisteredClient

ISSUER = "http://127.0.0.1:5000"
WEB_APP: dict[str, Any] = {
    "client_name": "Print shop",
    "redirect_uris": ["https://print.test/cb"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile offline_access photos.read",
}
MACHINE: dict[str, Any] = {
    "client_name": "Nightly export",
    "grant_types": ["client_credentials"],
    "scope": "photos.read",
}


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def challenge_error(response: TestResponse) -> str | None:
    """The error="..." of the WWW-Authenticate Bearer challenge, None for a bare challenge."""
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    for part in header[len("Bearer ") :].split(", "):
        name, _, value = part.partition("=")
        if name == "error":
            return value.strip('"')
    return None


def as_registered(info: dict[str, Any]) -> RegisteredClient:
    return RegisteredClient(info["client_id"], info.get("client_secret"), info)


def client_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Client)) or 0


class Registrar:
    """The operator's CLI and the client's calls to /register and /register/<id>."""

    def __init__(self, app: Flask, http: FlaskClient) -> None:
        self.app = app
        self.http = http

    def issue_token(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(
            args=["clients", "issue-registration-token", *args]
        )
        assert result.exit_code == 0, result.output
        return str(json.loads(result.output)["initial_access_token"])

    def register(self, metadata: Any, token: str | None = None, **kwargs: Any) -> TestResponse:
        if "data" not in kwargs:
            kwargs["json"] = metadata
        return self.http.post("/register", headers=bearer(token), **kwargs)

    def registered(self, metadata: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        response = self.register(metadata, token)
        assert response.status_code == 201, response.get_data(as_text=True)
        info: dict[str, Any] = response.json  # type: ignore[assignment]
        return info

    def read(self, client_id: str, token: str | None) -> TestResponse:
        return self.http.get(f"/register/{client_id}", headers=bearer(token))

    def replace(self, client_id: str, token: str | None, body: Any) -> TestResponse:
        return self.http.put(f"/register/{client_id}", headers=bearer(token), json=body)

    def delete(self, client_id: str, token: str | None) -> TestResponse:
        return self.http.delete(f"/register/{client_id}", headers=bearer(token))

"""The admin's side: ``root`` signed in on a test client of its own, so a test can drive a
user's OAuth flow on the shared ``client`` while the admin acts in another browser."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.models import Client
from app.services import clients as client_service
from tests.factories import UserFactory
from tests.helpers import AuthActions, csrf_token_from

SHOWN = re.compile(r"<dt>(Client ID|Client secret)</dt><dd><code[^>]*>([^<]+)</code></dd>")


class AdminConsole:
    """Drives /admin pages like a signed-in admin would: every POST carries the CSRF token."""

    def __init__(self, http: FlaskClient) -> None:
        self.http = http

    def get(self, path: str) -> TestResponse:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, Any] | None = None) -> TestResponse:
        token = csrf_token_from(self.http.get("/admin/clients").get_data(as_text=True))
        return self.http.post(path, data={"csrf_token": token} | (data or {}))

    def register(self, **fields: Any) -> TestResponse:
        """Submit the "Register client" form; unspecified fields keep the form's defaults."""
        form = {
            "client_name": "PhotoPrint",
            "redirect_uris": "https://app.test/cb",
            "grant_types": ["authorization_code"],
            "scope": "openid profile email photos.read",
            "token_endpoint_auth_method": "client_secret_basic",
        } | fields
        return self.post("/admin/clients/new", form)


def shown_credentials(response: TestResponse) -> dict[str, str]:
    """The "Client ID" / "Client secret" pairs of a result page."""
    return {
        label: unescape(value) for label, value in SHOWN.findall(response.get_data(as_text=True))
    }


def stored_clients(app: Flask) -> list[Client]:
    with app.app_context():
        return client_service.list_clients()


@pytest.fixture
def root(users: UserFactory) -> Any:
    return users.create("root", admin=True)


@pytest.fixture
def admin(app: Flask, root: Any) -> AdminConsole:
    """``root``, signed in on a test client separate from ``client``."""
    http = app.test_client()
    assert AuthActions(http).login("root").status_code == 303
    return AdminConsole(http)

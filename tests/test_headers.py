"""Security headers and cookie flags (docs/security.md UI-01, UI-07, LS-03)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.helpers import AuthActions

CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize("path", ["/", "/login", "/no-such-page"])
def test_html_responses_carry_anti_framing_and_csp(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"].startswith(CSP)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_json_responses_are_nosniff(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.json == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_lax(client: FlaskClient) -> None:
    cookie = client.get("/login").headers["Set-Cookie"]
    assert cookie.startswith("tessera=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_https_issuer_makes_cookies_secure_host_only(
    app_config: dict[str, Any], instance_path: Any
) -> None:
    app: Flask = create_app(app_config | {"OAUTH_ISSUER": "https://id.example.com"})
    response = app.test_client().get("/login", base_url="https://id.example.com")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-tessera=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Domain=" not in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_sign_in_answers_with_303_not_307(auth: AuthActions, bob: object) -> None:
    assert auth.login().status_code == 303

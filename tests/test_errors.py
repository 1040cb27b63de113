"""One error vocabulary: JSON for clients, HTML pages for people, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app


def test_unknown_page_is_a_friendly_html_404(client: FlaskClient) -> None:
    response = client.get("/no-such-page?<script>x</script>")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Page not found" in body
    assert "<script>x" not in body


# An unknown URL answers in the surface declared by the routes it lies under (route_policy).
@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/.well-known/nothing", "/token/nothing", "/register/a/b"]
)
def test_unknown_client_path_is_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json is not None
    assert response.json["error"] == "not_found"
    assert set(response.json) == {"error", "error_description"}


@pytest.mark.parametrize("path", ["/account/nothing", "/admin/nothing", "/oauth/nothing"])
def test_unknown_page_path_is_an_html_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    html = client.get("/logout")
    assert html.status_code == 405
    assert "POST" in html.headers["Allow"]
    assert html.mimetype == "text/html"
    for method, path in [("post", "/healthz"), ("get", "/token"), ("put", "/userinfo")]:
        json = getattr(client, method)(path)
        assert json.status_code == 405, path
        assert json.json is not None and json.json["error"] == "method_not_allowed", path


@pytest.mark.parametrize(
    ("app_config", "method", "path", "surface"),
    [
        ({"REGISTRATION_MODE": "off"}, "post", "/register", "application/json"),
        ({"DEVICE_FLOW_ENABLED": False}, "get", "/device", "text/html"),
    ],
    indirect=["app_config"],
)
def test_a_route_answers_in_its_declared_surface(
    client: FlaskClient, method: str, path: str, surface: str
) -> None:
    """A matched route's own declaration decides: its blueprint's 404 while switched off."""
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response.mimetype == surface


def test_oversized_body_is_413(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "x" * 200_000})
    assert response.status_code == 413
    assert "That was too large" in response.get_data(as_text=True)


@pytest.fixture
def broken_app(app_config: dict[str, Any], instance_path: Any) -> Flask:
    """The real app plus two routes that fail the way a bug would."""
    app = create_app(app_config)

    def explode() -> str:
        raise RuntimeError("SELECT secret FROM users -- internal detail")

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/api/v1/boom", "api_boom", explode)
    return app


def test_unexpected_error_is_a_clean_500_page(broken_app: Flask) -> None:
    response = broken_app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong on our side" in body
    assert "Traceback" not in body and "SELECT" not in body


def test_unexpected_api_error_is_json_500(broken_app: Flask) -> None:
    response = broken_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json == {
        "error": "server_error",
        "error_description": "An unexpected error occurred.",
    }


def test_database_outage_is_503_with_retry_after(
    app_config: dict[str, Any], instance_path: Any
) -> None:
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/tessera?connect_timeout=1"
    app = create_app(app_config | {"SQLALCHEMY_DATABASE_URI": unreachable})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json is not None and response.json["error"] == "temporarily_unavailable"
    assert "127.0.0.1" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/login?next=/%00", None),
        ("get", "/authorize?client_id=a%00b&response_type=code", None),
        ("post", "/login", {"username": "bob\x00", "password": "x"}),
        ("post", "/token", {"grant_type": "client_credentials", "client_id": "a\x00"}),
        ("get", "/api/v1/photos/abc%00def", None),
    ],
)
def test_nul_characters_are_a_clean_400_on_every_backend(
    client: FlaskClient, method: str, path: str, data: dict[str, str] | None
) -> None:
    response = getattr(client, method)(path, data=data)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)

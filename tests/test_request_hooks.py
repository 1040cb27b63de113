"""App-wide hooks that run only where they apply: what a caller sees stays the same.

The limiter, CSRF and Flask-Login hooks skip requests they have nothing to do for
(extensions.py, session_cookie.py); these tests pin the answers on both sides of each skip.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import DEFAULT_PASSWORD
from tests.lanes import Clock

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/photos", "/no-such-page"])
def test_calls_without_a_cookie_get_no_cookie_and_no_rate_limit_headers(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Cookie"
    assert not any(name in response.headers for name in RATE_LIMIT_HEADERS)
    assert "Retry-After" not in response.headers


def test_a_throttled_endpoint_still_counts_and_says_so(client: FlaskClient) -> None:
    first = client.post("/token", data={"grant_type": "client_credentials"})
    second = client.post("/token", data={"grant_type": "client_credentials"})

    assert first.status_code == second.status_code == 401
    assert first.headers["X-RateLimit-Limit"] == second.headers["X-RateLimit-Limit"]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (first, second)]
    assert remaining[1] < remaining[0]
    assert "Retry-After" not in second.headers


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT_PER_IP="2 per minute")
def test_a_throttled_endpoint_still_refuses_past_its_limit(client: FlaskClient) -> None:
    statuses = [
        client.post("/token", data={"grant_type": "client_credentials"}).status_code
        for _ in range(4)
    ]

    assert statuses == [401, 401, 429, 429]


@pytest.mark.limits(RATELIMIT_DEFAULT="2 per minute")
def test_app_wide_limits_in_the_configuration_still_apply_everywhere(
    client: FlaskClient,
) -> None:
    statuses = [client.get("/healthz").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_a_form_post_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/login")

    response = client.post("/login", data={"username": "bob", "password": "x"})

    assert response.status_code == 400


@pytest.mark.limits(WTF_CSRF_ENABLED=False)
def test_csrf_can_still_be_switched_off(client: FlaskClient, bob: Any) -> None:
    response = client.post("/login", data={"username": "bob", "password": DEFAULT_PASSWORD})

    assert response.status_code == 303


def test_a_signed_in_browser_keeps_its_session_cookie(
    client: FlaskClient, auth: Any, bob: Any
) -> None:
    auth.login()

    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["Vary"] == "Cookie"
    assert b"bob" in response.data


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT_PER_IP="2 per 1 second")
def test_a_memory_counter_still_ends_with_its_window(client: FlaskClient, clock: Clock) -> None:
    def status() -> int:
        return client.post("/token", data={"grant_type": "client_credentials"}).status_code

    assert [status() for _ in range(3)] == [401, 401, 429]
    clock.advance(1.1)
    assert status() == 401

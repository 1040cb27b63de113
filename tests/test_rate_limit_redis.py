"""Throttles shared through Redis: every worker and host counts the same attempts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import AuthActions, csrf_token_from, skip_or_fail
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import OAuthActions, RegisteredClient

pytestmark = [pytest.mark.redis, pytest.mark.live]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Limits kept in TEST_REDIS_URL, a Redis database the tests may empty."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("Redis rate-limit tests need TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    redis.Redis.from_url(redis_url).flushdb()
    return app_config | {
        "RATELIMIT_STORAGE_URI": redis_url,
        "LOGIN_LIMIT_PER_ACCOUNT": "3 per hour",
        "OAUTH_LIMIT_PER_CLIENT": "3 per hour",
    }


def failed_attempt_at(base_url: str, username: str) -> int:
    return sign_in_at(base_url, username, "wrong password")


def sign_in_at(base_url: str, username: str, password: str) -> int:
    with requests.Session() as browser:
        token = csrf_token_from(browser.get(f"{base_url}/login", timeout=10).text)
        form = {"username": username, "password": password, "csrf_token": token}
        return browser.post(
            f"{base_url}/login", data=form, allow_redirects=False, timeout=30
        ).status_code


def test_attempts_on_one_host_count_on_another(
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    auth: AuthActions,
    bob: object,
) -> None:
    """Two failures here, one at a separate gunicorn: the fourth try anywhere is throttled."""
    assert auth.login(password="wrong password").status_code == 200
    assert auth.login(password="wrong password").status_code == 200
    other_host = LiveServer(live_settings(app_config, instance_path), tmp_path / "other.log")
    other_host.start()
    try:
        assert failed_attempt_at(other_host.url, "bob") == 200
        assert failed_attempt_at(other_host.url, "bob") == 429
    finally:
        other_host.stop()
    assert auth.login().status_code == 429


def test_a_sign_in_at_one_host_clears_the_failures_counted_at_another(
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    auth: AuthActions,
    bob: object,
) -> None:
    """Only failures count, and the owner's success empties them for every host."""
    assert auth.login(password="wrong password").status_code == 200
    assert auth.login(password="wrong password").status_code == 200
    other_host = LiveServer(live_settings(app_config, instance_path), tmp_path / "other.log")
    other_host.start()
    try:
        assert sign_in_at(other_host.url, "bob", DEFAULT_PASSWORD) == 303
        assert failed_attempt_at(other_host.url, "bob") == 200
    finally:
        other_host.stop()
    assert [auth.login(password="wrong password").status_code for _ in range(3)] == [200, 200, 429]


def test_token_calls_of_one_client_count_across_hosts(
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    cc: RegisteredClient,
) -> None:
    """OAUTH_LIMIT_PER_CLIENT is one budget for the whole deployment when Redis holds it."""
    form = {"grant_type": "client_credentials", "scope": "photos.read"}
    assert oauth.token(cc, **form).status_code == 200
    assert oauth.token(cc, **form).status_code == 200
    settings = live_settings(app_config, instance_path)
    other_host = LiveServer(settings, tmp_path / "other.log")
    other_host.start()
    try:
        auth = (cc.client_id, cc.client_secret or "")
        at_other = [
            requests.post(f"{other_host.url}/token", data=form, auth=auth, timeout=10)
            for _ in range(2)
        ]
    finally:
        other_host.stop()
    assert [r.status_code for r in at_other] == [200, 429]
    assert at_other[1].json()["error"] == "too_many_requests"
    assert int(at_other[1].headers["Retry-After"]) > 0
    assert oauth.token(cc, **form).status_code == 429

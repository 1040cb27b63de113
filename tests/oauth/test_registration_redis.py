"""The registration throttle counts in Redis: every worker and host shares one budget."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
import requests
from flask.testing import FlaskClient

from tests.helpers import skip_or_fail
from tests.live import LiveServer
from tests.oauth.registration_helpers import MACHINE

pytestmark = [pytest.mark.redis, pytest.mark.live]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("Redis rate-limit tests need TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    redis.Redis.from_url(redis_url).flushdb()
    return app_config | {
        "RATELIMIT_STORAGE_URI": redis_url,
        "REGISTRATION_MODE": "open",
        "REGISTRATION_LIMIT_PER_IP": "3 per hour",
    }


def test_registrations_from_one_address_are_limited_across_hosts(
    client: FlaskClient, live_server: LiveServer
) -> None:
    """Two here (the test app), one at a separate gunicorn: the fourth anywhere is a 429."""
    assert client.post("/register", json=MACHINE).status_code == 201
    assert client.post("/register", json=MACHINE).status_code == 201
    at_other = [
        requests.post(f"{live_server.url}/register", json=MACHINE, timeout=30) for _ in range(2)
    ]
    assert [r.status_code for r in at_other] == [201, 429], live_server.log()
    assert at_other[1].json()["error"] == "too_many_requests"
    assert int(at_other[1].headers["Retry-After"]) >= 1
    assert client.post("/register", json=MACHINE).status_code == 429

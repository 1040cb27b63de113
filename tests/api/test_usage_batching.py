"""API call counts are summed per worker and written in batches (USAGE_FLUSH_SECONDS).

Writing a counter row on every API call took SQLite's write lock each time; now a worker
sums its calls and writes them at most every USAGE_FLUSH_SECONDS, and when it exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from app.services import usage
from tests.api.conftest import PhotoApi
from tests.lanes import Clock
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import RegisteredClient


def totals(app: Flask, user_id: int, client_id: str) -> dict[str, int]:
    with app.app_context():
        return usage.totals(user_id, client_id)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"USAGE_FLUSH_SECONDS": 1}


def test_calls_within_the_interval_are_written_together_once_it_passes(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, bob: Any, clock: Clock
) -> None:
    for _ in range(3):
        assert bob_api.get("/photos").status_code == 200
    clock.advance(1.1)  # the interval is the behaviour under test
    assert bob_api.get("/photos").status_code == 200
    assert totals(app, bob.id, photoprint.client_id) == {"listPhotos": 4}


@pytest.mark.live
def test_a_worker_writes_its_pending_counts_when_it_stops(
    app: Flask,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    bob_api: PhotoApi,
    photoprint: RegisteredClient,
    bob: Any,
) -> None:
    """gunicorn's graceful stop (SIGTERM) runs the exit flush: no count is lost."""
    settings = live_settings(app_config | {"USAGE_FLUSH_SECONDS": 3600}, instance_path)
    server = LiveServer(settings, tmp_path / "gunicorn.log", workers=1)
    # The token was issued for this app's issuer; the live server must share it.
    server.env["FLASK_OAUTH_ISSUER"] = app.config["OAUTH_ISSUER"]
    server.start()
    try:
        headers = bob_api.headers()
        for _ in range(5):
            response = requests.get(f"{server.url}/api/v1/photos", headers=headers, timeout=10)
            assert response.status_code == 200, response.text
        assert totals(app, bob.id, photoprint.client_id) == {}
    finally:
        server.stop()
    assert totals(app, bob.id, photoprint.client_id) == {"listPhotos": 5}, server.log()

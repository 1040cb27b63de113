"""Fixtures of the reliability suite: Tessera under gunicorn with 4 workers, a resource server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.live import LiveServer, live_settings
from tests.oauth.helpers import ClientFactory, RegisteredClient

LIVE_WORKERS = 4


@pytest.fixture
def live4(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    """Tessera under gunicorn (4 workers) on the test's database; rows are cleaned by ``app``."""
    settings = live_settings(app_config, instance_path)
    server = LiveServer(settings, tmp_path / "gunicorn.log", workers=LIVE_WORKERS)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rs(clients: ClientFactory) -> RegisteredClient:
    """A resource server: may introspect every client's tokens."""
    return clients.create(
        client_name="Photo API",
        grant_types=["client_credentials"],
        scope="photos.read",
        resource_server=True,
    )

"""Fixtures of the reliability suite: Tessera under gunicorn with 4 workers, a resource server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.live import LiveServer
from tests.oauth.helpers import ClientFactory, RegisteredClient

LIVE_WORKERS = 4


@pytest.fixture
def live4(live_server_factory: Callable[[int], LiveServer]) -> LiveServer:
    """Tessera under gunicorn (4 workers) on the test's database (see ``live_server``)."""
    return live_server_factory(LIVE_WORKERS)


@pytest.fixture
def rs(clients: ClientFactory) -> RegisteredClient:
    """A resource server: may introspect every client's tokens."""
    return clients.create(
        client_name="Photo API",
        grant_types=["client_credentials"],
        scope="photos.read",
        resource_server=True,
    )

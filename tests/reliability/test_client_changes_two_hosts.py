"""Client changes made at one host bind every host on its next request (issue 14 item 2).

Client authentication reads the client row on each request (no per-worker copy), so a
deletion, a rotation without grace or the end of a grace period, made at host A, refuses the
old secret at host B right away, even though B has just served that client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from app.extensions import db
from app.models import Client
from app.models.types import utcnow
from tests.live import LiveServer, flask_cli, live_settings
from tests.oauth.helpers import RegisteredClient
from tests.reliability.fault_support import REQUEST_TIMEOUT, running_together

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.live,
    # Hosts share a PostgreSQL database; SQLite is one host's file: no SQLite variant.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


@pytest.fixture
def hosts(
    database_url: str, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Hosts A and B on one database, one issuer."""
    settings = live_settings(app_config, instance_path)
    a = LiveServer(settings, tmp_path / "host-a.log")
    b = LiveServer(settings, tmp_path / "host-b.log")
    b.env["FLASK_OAUTH_ISSUER"] = a.url
    with running_together(a, b):
        yield a, b


def token_status(host: LiveServer, client_id: str, secret: str) -> int:
    """Status of a client_credentials call at ``host`` (both workers: two calls)."""
    statuses = {
        requests.post(
            f"{host.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=REQUEST_TIMEOUT,
        ).status_code
        for _ in range(2)
    }
    assert len(statuses) == 1, statuses
    return statuses.pop()


def at_host(host: LiveServer, *args: str) -> str:
    """A ``flask clients ...`` command run with host A's settings (its CLI, its database)."""
    done = flask_cli(host.env, "clients", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_secret_rotated_at_one_host_is_refused_at_the_other(
    hosts: tuple[LiveServer, LiveServer], cc: RegisteredClient
) -> None:
    a, b = hosts
    old = cc.client_secret or ""
    assert token_status(b, cc.client_id, old) == 200  # B has just served this client
    new = json.loads(at_host(a, "rotate-secret", cc.client_id))["client_secret"]
    assert token_status(b, cc.client_id, old) == 401
    assert token_status(b, cc.client_id, new) == 200
    assert token_status(a, cc.client_id, old) == 401


def test_a_client_deleted_at_one_host_is_refused_at_the_other(
    hosts: tuple[LiveServer, LiveServer], cc: RegisteredClient
) -> None:
    a, b = hosts
    secret = cc.client_secret or ""
    assert token_status(b, cc.client_id, secret) == 200
    at_host(a, "delete", cc.client_id)
    assert token_status(b, cc.client_id, secret) == 401
    refused = requests.post(
        f"{b.url}/introspect", data={"token": "t"}, auth=(cc.client_id, secret),
        timeout=REQUEST_TIMEOUT,
    )  # fmt: skip
    assert refused.status_code == 401


def test_the_end_of_a_grace_period_counts_at_every_host(
    hosts: tuple[LiveServer, LiveServer], app: Flask, cc: RegisteredClient
) -> None:
    a, b = hosts
    old = cc.client_secret or ""
    new = json.loads(at_host(a, "rotate-secret", cc.client_id, "--grace", "3600"))["client_secret"]
    assert token_status(b, cc.client_id, old) == 200  # within the grace period
    assert token_status(b, cc.client_id, new) == 200
    with app.app_context():  # the grace period runs out (as the clock would make it)
        client = db.session.get(Client, cc.client_id)
        assert client is not None
        client.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert token_status(b, cc.client_id, old) == 401
    assert token_status(a, cc.client_id, old) == 401
    assert token_status(b, cc.client_id, new) == 200

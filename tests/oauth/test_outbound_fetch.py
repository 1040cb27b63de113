"""Fetching a client's jwks_uri: deadline, cache, no SSRF (docs/security.md OF-01, OF-02, OF-03).

Every URL Tessera fetches goes through app/services/outbound.py: one total deadline (2 s),
64 KB, no redirects, public addresses only (loopback when OUTBOUND_ALLOW_LOOPBACK is on), the
socket connected to the address that was checked. JWK Sets are cached per client. The client's
site is a loopback server in a thread (tests/oauth/loopback_site.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from joserfc.jwk import ECKey

from tests.helpers import reconfigure
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient, client_assertion
from tests.oauth.loopback_site import LoopbackSite
from tests.oauth.registration_helpers import MACHINE, Registrar, client_count

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEADLINE = 2.0  # app/services/outbound.py
loopback_allowed = pytest.mark.limits(OUTBOUND_ALLOW_LOOPBACK=True)


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    server = LoopbackSite().start()
    yield server
    server.stop()


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True, auto_kid=True)


def key_client(clients: ClientFactory, jwks_uri: str, key: ECKey) -> RegisteredClient:
    """A client_credentials client whose keys live at ``jwks_uri``."""
    registered = clients.create(
        client_name="Key site client",
        grant_types=["client_credentials"],
        scope="photos.read",
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=jwks_uri,
    )
    registered.private_key = key
    return registered


def token_form(client: RegisteredClient, issuer: str, **claims: Any) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(client, issuer, **claims),
    }


def assert_invalid_client(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_client"


# -- OF-01: a total deadline, answered as 401 ----------------------------------------------


@pytest.mark.live
@loopback_allowed
def test_a_trickling_jwks_uri_is_401_within_the_deadline_and_never_holds_the_workers(
    clients: ClientFactory,
    site: LoopbackSite,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
) -> None:
    """Pen-test case 1: two token requests whose jwks_uri sends one byte every 0.5 s used to
    hold both gunicorn workers for 30 s (then gunicorn's HTML 500); now each is a 401 JSON
    invalid_client after the 2 s deadline, and /healthz waits at most that long."""
    client = key_client(clients, f"{site.url}/trickle", new_key())
    settings = live_settings(app_config, instance_path) | {"FLASK_OUTBOUND_ALLOW_LOOPBACK": "true"}
    live = LiveServer(settings, tmp_path / "gunicorn.log").start()
    results: list[tuple[float, requests.Response]] = []

    def token_request() -> None:
        started = time.monotonic()
        response = requests.post(f"{live.url}/token", data=token_form(client, live.url), timeout=8)
        results.append((time.monotonic() - started, response))

    try:
        threads = [threading.Thread(target=token_request) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # both are now waiting on the trickle
        started = time.monotonic()
        health = requests.get(f"{live.url}/healthz", timeout=8)
        health_wait = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=10)
    finally:
        live.stop()
    assert health.status_code == 200
    assert health_wait < DEADLINE + 1, health_wait
    assert len(results) == 2, live.log()[-2000:]
    for elapsed, response in results:
        assert response.status_code == 401, (response.status_code, response.text[:200])
        assert response.json()["error"] == "invalid_client"
        assert elapsed < DEADLINE + 1.5, elapsed
    assert site.hits("/trickle") >= 1


# -- OF-02: one fetch, then the cache ------------------------------------------------------


@loopback_allowed
def test_fifty_private_key_jwt_requests_fetch_the_jwks_once(
    app: Flask, oauth: OAuthActions, clients: ClientFactory, site: LoopbackSite
) -> None:
    key = new_key()
    site.jwks = {"keys": [key.as_dict(private=False)]}
    client = key_client(clients, f"{site.url}/jwks", key)
    issuer = app.config["OAUTH_ISSUER"]
    for _ in range(50):
        response = oauth.http.post("/token", data=token_form(client, issuer))
        assert response.status_code == 200, response.get_data(as_text=True)
    assert site.hits("/jwks") == 1


@loopback_allowed
def test_an_unknown_kid_refetches_once_then_waits_for_the_interval(
    app: Flask, oauth: OAuthActions, clients: ClientFactory, site: LoopbackSite
) -> None:
    """A rotated key is picked up at once; a stream of unknown kids costs no more fetches."""
    old, rotated, stranger = new_key(), new_key(), new_key()
    site.jwks = {"keys": [old.as_dict(private=False)]}
    client = key_client(clients, f"{site.url}/jwks", old)
    issuer = app.config["OAUTH_ISSUER"]
    assert oauth.http.post("/token", data=token_form(client, issuer)).status_code == 200

    site.jwks = {"keys": [old.as_dict(private=False), rotated.as_dict(private=False)]}
    client.private_key = rotated
    assert oauth.http.post("/token", data=token_form(client, issuer)).status_code == 200
    assert site.hits("/jwks") == 2

    client.private_key = stranger
    for _ in range(3):
        assert_invalid_client(oauth.http.post("/token", data=token_form(client, issuer)))
    assert site.hits("/jwks") == 2
    client.private_key = old
    assert oauth.http.post("/token", data=token_form(client, issuer)).status_code == 200


# -- OF-03: no SSRF ----------------------------------------------------------------------------


@pytest.mark.limits(REGISTRATION_MODE="open", OUTBOUND_ALLOW_LOOPBACK=False)
@pytest.mark.parametrize(
    "metadata",
    [
        {"jwks_uri": "https://169.254.169.254/latest/meta-data/"},
        {"jwks_uri": "https://10.0.0.1/jwks"},
        {"jwks_uri": "https://192.168.1.1/jwks"},
        {"jwks_uri": "https://100.64.0.1/jwks"},
        {"jwks_uri": "https://0.0.0.0/jwks"},
        {"jwks_uri": "https://224.0.0.1/jwks"},
        {"jwks_uri": "https://[fe80::1]/jwks"},
        {"jwks_uri": "https://[::ffff:10.0.0.1]/jwks"},
        {"jwks_uri": "https://[2002:a9fe:a9fe::]/jwks"},  # 6to4 of 169.254.169.254
        {"jwks_uri": "https://[64:ff9b::a00:1]/jwks"},  # NAT64 of 10.0.0.1
        {"jwks_uri": "https://[64:ff9b:1::a9fe:a9fe]/jwks"},  # local-use NAT64 (RFC 8215)
        {"jwks_uri": "https://[::a9fe:a9fe]/jwks"},  # IPv4-compatible 169.254.169.254
        {"jwks_uri": "https://[::ffff:0:a00:1]/jwks"},  # SIIT (RFC 6052) of 10.0.0.1
        {"jwks_uri": "https://[fec0::1]/jwks"},  # deprecated site-local
        {"jwks_uri": "https://[fc00::1]/jwks"},  # unique local
        {"jwks_uri": "https://127.0.0.1:8080/jwks"},
        {"jwks_uri": "http://localhost:8080/jwks"},
        {"logo_uri": "https://169.254.169.254/logo.png", "jwks_uri": "https://keys.test/jwks"},
        {"client_uri": "https://10.0.0.1/", "jwks_uri": "https://keys.test/jwks"},
    ],
    ids=lambda m: next(iter(m.values())),
)
def test_registration_refuses_urls_naming_private_or_loopback_hosts(
    app: Flask, client: Any, metadata: dict[str, str]
) -> None:
    registrar = Registrar(app, client)
    body = MACHINE | {"token_endpoint_auth_method": "private_key_jwt"} | metadata
    response = registrar.register(body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None
    assert response.json["error"] == "invalid_client_metadata"
    assert client_count(app) == 0


@loopback_allowed
def test_a_host_resolving_to_loopback_is_refused_at_connect_time_when_not_allowed(
    app: Flask, oauth: OAuthActions, clients: ClientFactory, site: LoopbackSite
) -> None:
    """The name is resolved and checked when fetched (a client registered earlier, or a name
    whose DNS changed): no connection is made and the client gets 401."""
    key = new_key()
    site.jwks = {"keys": [key.as_dict(private=False)]}
    client = key_client(clients, f"http://localhost:{site.port}/jwks", key)
    reconfigure(app, OUTBOUND_ALLOW_LOOPBACK=False)
    assert_invalid_client(
        oauth.http.post("/token", data=token_form(client, app.config["OAUTH_ISSUER"]))
    )
    assert site.connections == 0


@loopback_allowed
def test_a_redirecting_jwks_uri_is_not_followed(
    app: Flask, oauth: OAuthActions, clients: ClientFactory, site: LoopbackSite
) -> None:
    key = new_key()
    site.jwks = {"keys": [key.as_dict(private=False)]}
    client = key_client(clients, f"{site.url}/redirect", key)
    assert_invalid_client(
        oauth.http.post("/token", data=token_form(client, app.config["OAUTH_ISSUER"]))
    )
    assert site.hits("/redirect") == 1
    assert site.hits("/jwks") == 0

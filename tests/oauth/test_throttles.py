"""Throttles on the client endpoints (issue 6 item 7; docs/security.md CA-06).

Token, introspection and revocation count calls per claimed client and per address, and
failed client authentications per client + address and per address: failures from one
address never refuse the right credential sent from another (pen-test item 6). A throttled
call answers 429 with Retry-After and an RFC 6749 §5.2-shaped JSON body, and is never cached.
"""

from __future__ import annotations

import os
import time
from base64 import b64encode
from typing import Any

import pytest
import redis
from flask import Flask

from tests.helpers import skip_or_fail
from tests.lanes import Clock
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient, client_assertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(autouse=True, params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> str:
    """Every throttle behaves the same with per-worker memory and with Redis."""
    if request.param == "redis":
        url = os.environ.get("TEST_REDIS_URL")
        if not url:
            skip_or_fail("Redis throttle tests need TEST_REDIS_URL")
        redis.Redis.from_url(url).flushdb()
        app_config["RATELIMIT_STORAGE_URI"] = url
    return str(request.param)


def client_credentials(oauth: OAuthActions, client: RegisteredClient, **form: Any) -> Any:
    return oauth.token(client, grant_type="client_credentials", scope="photos.read", **form)


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429, response.data
    assert response.json["error"] == "too_many_requests"
    assert response.json["error_description"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def other(clients: ClientFactory) -> RegisteredClient:
    """A second machine client, calling from the same address."""
    return clients.create(
        client_name="Other job", grant_types=["client_credentials"], scope="photos.read"
    )


def wrong_secret(client: RegisteredClient) -> RegisteredClient:
    return RegisteredClient(client.client_id, "not-the-secret", client.metadata)


def calling_from(app: Flask, address: str) -> OAuthActions:
    """A caller at its own source address."""
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return OAuthActions(http, app.config["OAUTH_ISSUER"])


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="3 per minute")
def test_token_calls_per_client_are_limited(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, other: RegisteredClient
) -> None:
    for _ in range(3):
        assert client_credentials(oauth, cc).status_code == 200
    assert_throttled(client_credentials(oauth, cc))
    # Another client from the same address still gets tokens.
    assert client_credentials(oauth, other).status_code == 200


@pytest.mark.limits(OAUTH_LIMIT_PER_IP="2 per minute")
def test_introspection_calls_per_address_are_limited(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, conf: RegisteredClient
) -> None:
    token = client_credentials(oauth, cc).json["access_token"]
    assert oauth.introspect(cc, token).status_code == 200
    assert oauth.introspect(conf, token).status_code == 200
    assert_throttled(oauth.introspect(cc, token))


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="1 per minute")
def test_revocation_is_limited_per_client(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    token = client_credentials(oauth, cc).json["access_token"]
    assert oauth.revoke(cc, token).status_code == 200
    assert_throttled(oauth.revoke(cc, token))


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="5 per 3 seconds")
def test_secret_guessing_is_throttled_then_the_right_secret_works_again(
    app: Flask,
    oauth: OAuthActions,
    cc: RegisteredClient,
    other: RegisteredClient,
    storage: str,
    clock: Clock,
) -> None:
    """CA-06: after 5 wrong secrets even the right one waits; after the window it works."""
    for _ in range(5):
        response = client_credentials(oauth, wrong_secret(cc))
        assert response.status_code == 401
        assert response.json["error"] == "invalid_client"
    assert_throttled(client_credentials(oauth, wrong_secret(cc)))
    assert_throttled(client_credentials(oauth, cc))
    # Failures against one client do not lock out another.
    assert client_credentials(oauth, other).status_code == 200
    if storage == "memory":
        clock.advance(3.1)
    deadline = time.monotonic() + 10  # Redis expires its keys by its own clock: wait for it
    while (status := client_credentials(oauth, cc).status_code) == 429:
        assert time.monotonic() < deadline, "the throttle did not end with its window"
        time.sleep(0.2)
    assert status == 200


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="2 per minute")
def test_successful_authentications_do_not_count_as_failures(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    for _ in range(6):
        assert client_credentials(oauth, cc).status_code == 200


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="3 per minute")
def test_failures_at_introspection_and_revocation_count_together(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    token = client_credentials(oauth, cc).json["access_token"]
    bad = wrong_secret(cc)
    assert oauth.introspect(bad, token).status_code == 401
    assert oauth.revoke(bad, token).status_code == 401
    assert client_credentials(oauth, bad).status_code == 401
    assert_throttled(oauth.introspect(cc, token))


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="2 per minute")
def test_pages_and_the_api_are_not_counted(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, client: Any
) -> None:
    for _ in range(5):
        assert client.get("/.well-known/openid-configuration").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert client_credentials(oauth, cc).status_code == 200


# -- pen-test item 6: failures are the attacker's, never the client's ---------------------


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="5 per minute")
def test_wrong_secrets_from_one_address_never_refuse_the_right_secret_from_another(
    app: Flask, conf: RegisteredClient
) -> None:
    """An attacker knowing only the client_id cannot shut off a resource server's calls."""
    attacker = calling_from(app, "10.0.0.66")
    statuses = {attacker.introspect(wrong_secret(conf), "t").status_code for _ in range(50)}
    assert statuses == {401, 429}
    assert_throttled(attacker.introspect(conf, "t"))  # the attacker's address waits
    resource_server = calling_from(app, "10.0.0.2")
    answer = resource_server.introspect(conf, "t")
    assert answer.status_code == 200, answer.data
    assert answer.json == {"active": False}
    assert resource_server.revoke(conf, "t").status_code == 200


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="3 per minute")
def test_assertion_failures_without_client_id_count_for_the_issuer_only(
    app: Flask, oauth: OAuthActions, pkj: RegisteredClient, clients: ClientFactory
) -> None:
    """private_key_jwt without client_id: failures are keyed by the assertion's iss."""
    other = clients.create(
        private_key=pkj.private_key, client_name="Second key client",
        grant_types=["client_credentials"], scope="photos.read",
    )  # fmt: skip
    audience = app.config["OAUTH_ISSUER"]  # RFC 7523bis: the issuer, one string

    def by_assertion(client: RegisteredClient, **claims: Any) -> Any:
        form = {
            "grant_type": "client_credentials",
            "scope": "photos.read",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(client, audience, **claims),
        }
        return oauth.token(None, **form)

    for _ in range(3):
        assert by_assertion(pkj, exp=int(time.time()) - 600).status_code == 401
    assert_throttled(by_assertion(pkj, exp=int(time.time()) - 600))
    # Another client at the same address is not held up by pkj's failures.
    assert by_assertion(other).status_code == 200


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT_PER_IP="4 per minute")
def test_failures_for_many_clients_from_one_address_are_throttled_there(
    app: Flask, cc: RegisteredClient, other: RegisteredClient
) -> None:
    attacker = calling_from(app, "10.0.0.66")
    for index in range(4):
        guess = RegisteredClient(f"made-up-{index}", "guess", cc.metadata)
        assert client_credentials(attacker, guess).status_code == 401
    assert_throttled(client_credentials(attacker, wrong_secret(other)))
    assert_throttled(client_credentials(attacker, cc))
    assert client_credentials(calling_from(app, "10.0.0.2"), cc).status_code == 200


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="3 per minute")
def test_failed_calls_do_not_use_up_the_client_call_budget(
    app: Flask, cc: RegisteredClient
) -> None:
    attacker = calling_from(app, "10.0.0.66")
    for _ in range(10):
        assert client_credentials(attacker, wrong_secret(cc)).status_code == 401
    owner = calling_from(app, "10.0.0.2")
    assert [client_credentials(owner, cc).status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="3 per minute")
def test_malformed_calls_naming_a_client_do_not_use_up_its_budget(
    app: Flask, conf: RegisteredClient
) -> None:
    """400s that never authenticated (no grant_type, two auth methods) name the client freely."""
    attacker = calling_from(app, "10.0.0.66")
    for _ in range(5):
        assert attacker.http.post("/token", data={"client_id": conf.client_id}).status_code == 400
        two_methods = attacker.http.post(
            "/introspect",
            data={"token": "t", "client_secret": "x"},
            headers={
                "Authorization": "Basic " + b64encode(f"{conf.client_id}:x".encode()).decode()
            },
        )
        assert two_methods.status_code == 400
    resource_server = calling_from(app, "10.0.0.2")
    assert resource_server.introspect(conf, "t").status_code == 200
    assert resource_server.token(conf, grant_type="authorization_code", code="x").status_code == 400

"""Two Tessera hosts behind one name (docs/security.md §3; README "Set the same value on every
host"): one PostgreSQL database, one Redis for the throttles, one issuer. Whatever a client
does at one host holds at the other on its very next call.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from, skip_or_fail
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import OAuthActions, RegisteredClient
from tests.reliability.fault_support import (
    access_token_at,
    basic,
    client_credentials,
    introspect,
    list_photos,
    refresh,
    refresh_tokens_for,
    running_together,
    sign_in_attempt,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.live,
    pytest.mark.redis,
    # Hosts share a PostgreSQL database; SQLite is one host's file: no SQLite variant.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

ACCOUNT_LIMIT = 3


@pytest.fixture
def hosts(
    database_url: str, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Hosts A and B: same database, same Redis (a key prefix of their own), same issuer."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("two-host tests need TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    prefix = "tessera-two-hosts-" + secrets.token_hex(6)
    config = app_config | {
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_LIMIT_PER_ACCOUNT": f"{ACCOUNT_LIMIT} per hour",
    }
    settings = live_settings(config, instance_path)
    a = LiveServer(settings, tmp_path / "host-a.log")
    b = LiveServer(settings, tmp_path / "host-b.log")
    b.env["FLASK_OAUTH_ISSUER"] = a.url  # one public name for both, as behind a balancer
    try:
        with running_together(a, b):
            yield a, b
    finally:
        store = redis.Redis.from_url(redis_url)
        keys = list(store.scan_iter(f"*{prefix}*"))
        if keys:
            store.delete(*keys)


def test_tokens_issued_by_one_host_work_at_the_other(
    hosts: tuple[LiveServer, LiveServer],
    oauth: OAuthActions,
    conf: RegisteredClient,
    cc: RegisteredClient,
    bob: Any,
) -> None:
    """An access token from A reads photos at B; a client_credentials token from B
    introspects active at A; a refresh token rotated at A is spent at B too."""
    a, b = hosts
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    access_token, next_refresh = access_token_at(a.url, conf, refresh_token)
    with requests.Session() as session:
        assert list_photos(session, b.url, access_token).status_code == 200
        assert introspect(b.url, conf, access_token)["active"] is True

        machine = client_credentials(session, b.url, cc)
        assert machine.status_code == 200, machine.text
        assert introspect(a.url, cc, machine.json()["access_token"])["active"] is True

        replay = refresh(session, b.url, conf, refresh_token)
        assert replay.status_code == 400, replay.text
        assert replay.json()["error"] == "invalid_grant"
        # Reuse revoked the whole grant, at both hosts.
        assert refresh(session, a.url, conf, next_refresh).status_code == 400
        assert list_photos(session, a.url, access_token).status_code == 401


def test_revocation_at_one_host_takes_effect_at_the_other(
    hosts: tuple[LiveServer, LiveServer],
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    """POST /revoke at A: B refuses the access token on its next call (RFC 7009 §2);
    revoking the refresh token at A ends the grant at B (refresh and API)."""
    a, b = hosts
    first, second = refresh_tokens_for(oauth, conf, 2)
    access_token, _ = access_token_at(a.url, conf, first)
    grant_access, grant_refresh = access_token_at(a.url, conf, second)
    with requests.Session() as session:
        assert list_photos(session, b.url, access_token).status_code == 200
        assert list_photos(session, b.url, grant_access).status_code == 200

        revoked = session.post(
            f"{a.url}/revoke",
            data={"token": access_token, "token_type_hint": "access_token"},
            auth=basic(conf),
            timeout=15,
        )
        assert revoked.status_code == 200, revoked.text
        refused = list_photos(session, b.url, access_token)
        assert refused.status_code == 401, refused.text
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert introspect(b.url, conf, access_token) == {"active": False}

        revoked = session.post(
            f"{a.url}/revoke", data={"token": grant_refresh}, auth=basic(conf), timeout=15
        )
        assert revoked.status_code == 200, revoked.text
        assert refresh(session, b.url, conf, grant_refresh).status_code == 400
        assert list_photos(session, b.url, grant_access).status_code == 401


def userinfo(session: requests.Session, base_url: str, access_token: str) -> requests.Response:
    return session.get(
        f"{base_url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=15
    )


def assert_refused(session: requests.Session, base_url: str, access_token: str) -> None:
    for refused in (
        userinfo(session, base_url, access_token),
        list_photos(session, base_url, access_token),
    ):
        assert refused.status_code == 401, refused.text
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_bearer_revocation_at_one_host_refuses_the_next_call_at_the_other(
    hosts: tuple[LiveServer, LiveServer],
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    """Each host's workers read tokens on pooled connections of their own: /revoke of one
    access token at A, then bob's "My apps" revocation of the app at A, and B's very next
    /userinfo and photo calls are 401 invalid_token."""
    a, b = hosts
    first, second = refresh_tokens_for(oauth, conf, 2)
    one_token, _ = access_token_at(a.url, conf, first)
    app_token, _ = access_token_at(a.url, conf, second)
    with requests.Session() as session, requests.Session() as browser:
        for token in (one_token, app_token):  # both good at B first
            assert userinfo(session, b.url, token).json()["sub"] == str(bob.id)
            assert list_photos(session, b.url, token).status_code == 200

        revoked = session.post(
            f"{a.url}/revoke", data={"token": one_token}, auth=basic(conf), timeout=15
        )
        assert revoked.status_code == 200, revoked.text
        assert_refused(session, b.url, one_token)
        assert userinfo(session, b.url, app_token).status_code == 200

        signed_in = sign_in_attempt(browser, a.url, "bob", DEFAULT_PASSWORD)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(f"{a.url}/account/apps", timeout=15).text
        ended = browser.post(
            f"{a.url}/account/apps/{conf.client_id}/revoke",
            data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
            allow_redirects=False,
            timeout=15,
        )
        assert ended.status_code == 303, ended.text
        assert_refused(session, b.url, app_token)


def test_sign_in_throttle_counts_attempts_at_both_hosts(
    hosts: tuple[LiveServer, LiveServer], bob: Any
) -> None:
    """LOGIN_LIMIT_PER_ACCOUNT is 3 per hour: failures at A, B, A use it up, so the next
    try at either host is 429, even with the right password."""
    a, b = hosts
    with requests.Session() as browser:
        tries = [sign_in_attempt(browser, host.url, "bob", "wrong password") for host in (a, b, a)]
        assert [t.status_code for t in tries] == [200] * ACCOUNT_LIMIT
        throttled = [sign_in_attempt(browser, host.url, "bob", "wrong password") for host in (b, a)]
        assert [t.status_code for t in throttled] == [429, 429]
        assert all(t.headers.get("Retry-After") for t in throttled)
        right = sign_in_attempt(browser, b.url, "bob", DEFAULT_PASSWORD)
        assert right.status_code == 429, "the right password waits for the window too"
        assert "Location" not in right.headers

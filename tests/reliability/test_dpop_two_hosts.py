"""DPoP across two hosts behind one name (RFC 9449 §11.1): a proof used at one host is
refused at the other, whether the replay cache is the shared PostgreSQL database or Redis,
and a server nonce from one host is accepted by the other (same SECRET_KEY)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask

from app.extensions import db
from app.models import UsedDPoPProof
from app.services.replay_cache import REDIS_KEY_PREFIX
from tests.helpers import skip_or_fail
from tests.live import LiveServer, live_settings
from tests.oauth.dpop_support import DPoPClient
from tests.oauth.helpers import OAuthActions, RegisteredClient
from tests.reliability.fault_support import REQUEST_TIMEOUT, basic, running_together

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.live,
    pytest.mark.redis,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


@pytest.fixture(params=["database", "redis"])
def hosts(
    request: pytest.FixtureRequest, app_config: dict[str, Any], instance_path: Path,
    tmp_path: Path,
) -> Iterator[tuple[LiveServer, LiveServer, str]]:  # fmt: skip
    """Hosts A and B: one PostgreSQL, one issuer, nonces required, the replay cache in the
    database or in one Redis."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("two-host tests need TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/13)")
    settings = live_settings(app_config, instance_path) | {"FLASK_DPOP_NONCE_REQUIRED": "true"}
    if request.param == "redis":
        settings["FLASK_REPLAY_CACHE_URI"] = redis_url
    a = LiveServer(settings, tmp_path / "host-a.log")
    b = LiveServer(settings, tmp_path / "host-b.log")
    b.env["FLASK_OAUTH_ISSUER"] = a.url  # one public name for both, as behind a balancer
    store = redis.Redis.from_url(redis_url)
    forget_proofs(store)
    try:
        with running_together(a, b):
            yield a, b, request.param
    finally:
        forget_proofs(store)


def forget_proofs(store: redis.Redis) -> None:
    keys = list(store.scan_iter(f"{REDIS_KEY_PREFIX}*"))
    if keys:
        store.delete(*keys)


def used_proofs_in_database(app: Flask) -> int:
    with app.app_context():
        return db.session.query(UsedDPoPProof).count()


def test_a_proof_used_at_one_host_is_refused_at_the_other(
    hosts: tuple[LiveServer, LiveServer, str], app: Flask, oauth: OAuthActions,
    conf: RegisteredClient, bob: Any,
) -> None:  # fmt: skip
    a, b, cache = hosts
    key = DPoPClient()
    token_url, photos_url = f"{a.url}/token", f"{a.url}/api/v1/photos"  # the public name
    flow = oauth.approve(conf, scope="openid photos.read")
    form = {"grant_type": "authorization_code", "code": flow.code,
            "redirect_uri": conf.redirect_uri, "code_verifier": flow.verifier}  # fmt: skip
    with requests.Session() as http:
        # A's nonce is good at B: nonces are derived from the shared secret, not stored.
        first = key.proof("POST", token_url)
        asked = http.post(f"{a.url}/token", data=form, auth=basic(conf),
                          headers={"DPoP": first}, timeout=REQUEST_TIMEOUT)  # fmt: skip
        assert asked.status_code == 400 and asked.json()["error"] == "use_dpop_nonce"
        nonce = asked.headers["DPoP-Nonce"]
        proof = key.proof("POST", token_url, nonce=nonce)
        issued = http.post(f"{b.url}/token", data=form, auth=basic(conf),
                           headers={"DPoP": proof}, timeout=REQUEST_TIMEOUT)  # fmt: skip
        assert issued.status_code == 200, issued.text
        access = issued.json()["access_token"]

        replayed = http.post(f"{a.url}/token", data={"grant_type": "client_credentials"},
                             auth=basic(conf), headers={"DPoP": proof}, timeout=15)  # fmt: skip
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_dpop_proof"

        headers = {
            "Authorization": f"DPoP {access}",
            "DPoP": key.proof("GET", photos_url, access_token=access, nonce=nonce),
        }
        assert http.get(f"{a.url}/api/v1/photos", headers=headers, timeout=15).status_code == 200
        again = http.get(f"{b.url}/api/v1/photos", headers=headers, timeout=15)
        assert again.status_code == 401
        assert 'error="invalid_dpop_proof"' in again.headers["WWW-Authenticate"]
    # The proofs were remembered where the setting says, and only there.
    in_database = used_proofs_in_database(app)
    in_redis = len(list(redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).scan_iter(
        f"{REDIS_KEY_PREFIX}*")))  # fmt: skip
    assert (in_database, in_redis) == ((2, 0) if cache == "database" else (0, 2))

"""DPoP at the token endpoint (RFC 9449 §4.3, §5, §6, §8): proofs, bound tokens, nonces."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.test import TestResponse

from app import create_app
from app.config import ConfigError
from app.extensions import db
from app.models import RefreshToken, UsedDPoPProof
from app.models.types import utcnow
from app.oauth.dpop import nonce_at
from app.services.replay_cache import REDIS_KEY_PREFIX
from tests.helpers import reconfigure
from tests.live import flask_cli
from tests.oauth.dpop_support import (
    DPoPClient,
    claims_of,
    code_flow,
    hmac_proof,
    post_token,
    unsigned_proof,
)
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient, redis_replay_cache


@pytest.fixture
def key() -> DPoPClient:
    return DPoPClient()


def token_url(oauth: OAuthActions) -> str:
    return f"{oauth.issuer}/token"


def client_credentials(
    oauth: OAuthActions, cc: RegisteredClient, proofs: str | list[str] | None
) -> TestResponse:
    return post_token(oauth, cc, proofs, grant_type="client_credentials")


def assert_error(response: TestResponse, error: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == error, response.json
    assert response.headers["Cache-Control"] == "no-store"


# -- §5: a valid proof binds the access token -------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "PS256", "RS256", "Ed25519"])
def test_a_proof_binds_the_access_token_to_its_key(
    oauth: OAuthActions, cc: RegisteredClient, alg: str
) -> None:
    key = DPoPClient(alg)
    response = client_credentials(oauth, cc, key.proof("POST", token_url(oauth)))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body is not None and body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}


def test_without_a_proof_the_token_stays_a_bearer_token(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    response = client_credentials(oauth, cc, None)
    assert response.status_code == 200
    assert response.json is not None and response.json["token_type"] == "Bearer"
    assert "cnf" not in claims_of(response.json["access_token"])


def test_introspection_shows_the_binding(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    """RFC 9449 §6.2: token_type DPoP and cnf.jkt."""
    token = client_credentials(oauth, cc, key.proof("POST", token_url(oauth))).json
    assert token is not None
    answer = oauth.introspect(cc, token["access_token"]).json
    assert answer is not None and answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.jkt}
    bearer = client_credentials(oauth, cc, None).json
    assert bearer is not None
    answer = oauth.introspect(cc, bearer["access_token"]).json
    assert answer is not None and answer["token_type"] == "Bearer" and "cnf" not in answer


def test_htu_is_compared_after_normalisation(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    """§4.3 step 9: case of scheme and host, the default port, query and fragment do not count."""
    assert oauth.issuer == "http://127.0.0.1:5000"
    for htu in ("HTTP://127.0.0.1:5000/token?x=1#f", "http://127.0.0.1:5000/%74oken"):
        response = client_credentials(oauth, cc, key.proof("POST", htu))
        assert response.status_code == 200, (htu, response.json)


# -- §4.3: every check, each an invalid_dpop_proof ----------------------------------------

BAD_PROOFS: dict[str, Any] = {
    "typ JWT": lambda k, url: k.proof("POST", url, header={"typ": "JWT"}),
    "no typ": lambda k, url: k.proof("POST", url, header={"typ": None}),
    "alg none": lambda k, url: unsigned_proof("POST", url, k.public_jwk()),
    "alg HS256": lambda k, url: hmac_proof("POST", url),
    "no jwk": lambda k, url: k.proof("POST", url, header={"jwk": None}),
    "private jwk": lambda k, url: k.proof("POST", url, header={"jwk": k.key.as_dict(private=True)}),
    "jwk of another key": lambda k, url: k.proof(
        "POST", url, header={"jwk": DPoPClient().public_jwk()}
    ),
    "htm GET": lambda k, url: k.proof("GET", url),
    "htu other path": lambda k, url: k.proof("POST", url.replace("/token", "/revoke")),
    "htu other host": lambda k, url: k.proof("POST", "http://evil.test/token"),
    "htu https": lambda k, url: k.proof("POST", url.replace("http:", "https:")),
    "iat too old": lambda k, url: k.proof("POST", url, iat=int(time.time()) - 301),
    "iat in the future": lambda k, url: k.proof("POST", url, iat=int(time.time()) + 60),
    "iat a string": lambda k, url: k.proof("POST", url, iat="now"),
    "no iat": lambda k, url: k.proof("POST", url, iat=None),
    "no jti": lambda k, url: k.proof("POST", url, jti=None),
    "jti too long": lambda k, url: k.proof("POST", url, jti="j" * 257),
    "no htm": lambda k, url: k.proof("POST", url, htm=None),
    "no htu": lambda k, url: k.proof("POST", url, htu=None),
    "not a JWT": lambda k, url: "not-a-jwt",
    "tampered signature": lambda k, url: k.proof("POST", url)[:-6] + "AAAAAA",
}


@pytest.mark.parametrize("kind", BAD_PROOFS)
def test_a_bad_proof_is_invalid_dpop_proof_and_issues_nothing(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient, kind: str
) -> None:
    response = client_credentials(oauth, cc, BAD_PROOFS[kind](key, token_url(oauth)))
    assert_error(response, "invalid_dpop_proof")
    assert "access_token" not in (response.json or {})


def test_two_dpop_headers_are_refused(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    proofs = [key.proof("POST", token_url(oauth)), key.proof("POST", token_url(oauth))]
    assert_error(client_credentials(oauth, cc, proofs), "invalid_dpop_proof")


def test_a_proof_is_accepted_once(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    """§11.1: the jti is remembered; the same proof again is refused."""
    proof = key.proof("POST", token_url(oauth))
    assert client_credentials(oauth, cc, proof).status_code == 200
    assert_error(client_credentials(oauth, cc, proof), "invalid_dpop_proof")
    # Another key may use the same jti: the replay key is (jkt, jti).
    other = DPoPClient().proof("POST", token_url(oauth), jti=claims_of(proof)["jti"])
    assert client_credentials(oauth, cc, other).status_code == 200


def test_a_proof_sent_with_a_wrong_secret_stores_nothing(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    """Issue 14: the jti is recorded only once the client has authenticated, so a caller
    without the secret writes nothing, and the proof still works for the real client."""
    proof = key.proof("POST", token_url(oauth))
    wrong = RegisteredClient(cc.client_id, "not-the-secret", cc.metadata)
    refused = client_credentials(oauth, wrong, proof)
    assert refused.status_code == 401, refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(UsedDPoPProof).count() == 0
    response = client_credentials(oauth, cc, proof)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and response.json["token_type"] == "DPoP"
    assert_error(client_credentials(oauth, cc, proof), "invalid_dpop_proof")


def test_a_proof_of_a_refused_authenticated_request_stays_used(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    """Refused after authentication (here invalid_scope): the proof cannot come back."""
    proof = key.proof("POST", token_url(oauth))
    refused = post_token(oauth, cc, proof, grant_type="client_credentials", scope="openid")
    assert_error(refused, "invalid_scope")
    assert_error(client_credentials(oauth, cc, proof), "invalid_dpop_proof")


def test_used_proof_ids_are_purged_after_their_window(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    client_credentials(oauth, cc, key.proof("POST", token_url(oauth)))
    runner = app.test_cli_runner()
    assert "used_dpop_proofs\t0" in runner.invoke(args=["tokens", "purge"]).output
    with app.app_context():
        (row,) = db.session.query(UsedDPoPProof).all()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert "used_dpop_proofs\t1" in runner.invoke(args=["tokens", "purge"]).output


# -- §5: refresh tokens of public clients are bound ---------------------------------------


def refresh(
    oauth: OAuthActions, client: RegisteredClient, refresh_token: str, proof: str | None
) -> TestResponse:
    return post_token(oauth, client, proof, grant_type="refresh_token", refresh_token=refresh_token)


def test_a_public_clients_refresh_token_needs_a_proof_of_the_same_key(
    oauth: OAuthActions, pub: RegisteredClient, key: DPoPClient, bob: Any
) -> None:
    tokens = code_flow(oauth, pub, key.proof("POST", token_url(oauth)))
    assert tokens["token_type"] == "DPoP"
    assert claims_of(tokens["access_token"])["cnf"]["jkt"] == key.jkt
    refresh_token = tokens["refresh_token"]

    assert_error(refresh(oauth, pub, refresh_token, None), "invalid_dpop_proof")
    other = DPoPClient().proof("POST", token_url(oauth))
    response = refresh(oauth, pub, refresh_token, other)
    assert_error(response, "invalid_grant")
    assert response.json is not None
    assert "DPoP proof key does not match" in response.json["error_description"]

    # Neither refusal spent the token: its holder still refreshes, and the successor is bound.
    response = refresh(oauth, pub, refresh_token, key.proof("POST", token_url(oauth)))
    assert response.status_code == 200, response.get_data(as_text=True)
    renewed = response.json
    assert renewed is not None and renewed["token_type"] == "DPoP"
    assert_error(refresh(oauth, pub, renewed["refresh_token"], None), "invalid_dpop_proof")


def test_a_confidential_clients_refresh_token_is_not_bound(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, key: DPoPClient, bob: Any
) -> None:
    """§5: confidential clients authenticate, so only their access tokens are bound."""
    tokens = code_flow(oauth, conf, key.proof("POST", token_url(oauth)))
    assert tokens["token_type"] == "DPoP"
    with app.app_context():
        assert {row.dpop_jkt for row in db.session.query(RefreshToken)} == {None}
    response = refresh(oauth, conf, tokens["refresh_token"], None)
    assert response.status_code == 200
    assert response.json is not None and response.json["token_type"] == "Bearer"
    response = refresh(oauth, conf, response.json["refresh_token"], DPoPClient().proof(
        "POST", token_url(oauth)))  # fmt: skip
    assert response.json is not None and response.json["token_type"] == "DPoP"


def test_a_client_registered_for_dpop_must_send_a_proof(
    oauth: OAuthActions, clients: ClientFactory, key: DPoPClient
) -> None:
    """§5.2 ``dpop_bound_access_tokens: true``: a token request without a proof is refused."""
    strict = clients.create(
        grant_types=["client_credentials"], scope="photos.read", dpop_bound_access_tokens=True
    )
    assert strict.metadata["dpop_bound_access_tokens"] is True
    assert_error(client_credentials(oauth, strict, None), "invalid_dpop_proof")
    response = client_credentials(oauth, strict, key.proof("POST", token_url(oauth)))
    assert response.status_code == 200
    assert response.json is not None and response.json["token_type"] == "DPoP"


def test_cli_registers_a_client_that_must_send_a_proof(
    oauth: OAuthActions, cli_env: dict[str, str], key: DPoPClient
) -> None:
    """``clients create --dpop-bound-access-tokens`` (as PhotoPrint's registration runs it)."""
    args = ["clients", "create", "--name", "Bound CLI", "--redirect-uri", "https://cli.test/cb",
            "--grant-types", "client_credentials", "--scope", "photos.read"]  # fmt: skip
    created = flask_cli(cli_env, *args, "--dpop-bound-access-tokens")
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["dpop_bound_access_tokens"] is True
    bound = RegisteredClient(info["client_id"], info["client_secret"], info)
    assert_error(client_credentials(oauth, bound, None), "invalid_dpop_proof")
    response = client_credentials(oauth, bound, key.proof("POST", token_url(oauth)))
    assert response.json is not None and response.json["token_type"] == "DPoP"
    plain = json.loads(flask_cli(cli_env, *args).stdout)
    assert "dpop_bound_access_tokens" not in plain
    unbound = RegisteredClient(plain["client_id"], plain["client_secret"], plain)
    assert client_credentials(oauth, unbound, None).json["token_type"] == "Bearer"  # type: ignore[index]


def test_a_proof_for_a_refused_grant_issues_nothing(
    oauth: OAuthActions, pub: RegisteredClient, key: DPoPClient, bob: Any
) -> None:
    """A valid proof does not make an invalid grant succeed."""
    response = refresh(oauth, pub, "no-such-token", key.proof("POST", token_url(oauth)))
    assert_error(response, "invalid_grant")


# -- §8: server nonces -------------------------------------------------------------------


@pytest.fixture
def nonces(app_config: dict[str, Any]) -> None:
    app_config["DPOP_NONCE_REQUIRED"] = True


def test_a_proof_without_the_server_nonce_gets_use_dpop_nonce(
    nonces: None, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    refused = client_credentials(oauth, cc, key.proof("POST", token_url(oauth)))
    assert_error(refused, "use_dpop_nonce")
    nonce = refused.headers["DPoP-Nonce"]
    assert len(nonce) >= 32
    wrong = client_credentials(oauth, cc, key.proof("POST", token_url(oauth), nonce="x" + nonce))
    assert_error(wrong, "use_dpop_nonce")
    accepted = client_credentials(oauth, cc, key.proof("POST", token_url(oauth), nonce=nonce))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.json is not None and accepted.json["token_type"] == "DPoP"
    assert accepted.headers["DPoP-Nonce"]


def test_a_nonce_of_the_previous_step_is_accepted_an_older_one_is_not(
    nonces: None, app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    with app.app_context():
        previous, stale = nonce_at(time.time() - 300), nonce_at(time.time() - 600)
    ok = client_credentials(oauth, cc, key.proof("POST", token_url(oauth), nonce=previous))
    assert ok.status_code == 200
    old = client_credentials(oauth, cc, key.proof("POST", token_url(oauth), nonce=stale))
    assert_error(old, "use_dpop_nonce")


def test_without_required_nonces_no_nonce_is_sent(
    oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    response = client_credentials(oauth, cc, key.proof("POST", token_url(oauth)))
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response.headers


# -- DPOP_ENABLED = False ----------------------------------------------------------------


def test_when_disabled_the_header_is_ignored_and_nothing_is_advertised(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    reconfigure(app, DPOP_ENABLED=False)
    response = client_credentials(oauth, cc, "not-even-a-jwt")
    assert response.status_code == 200
    assert response.json is not None and response.json["token_type"] == "Bearer"
    assert "cnf" not in claims_of(response.json["access_token"])
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        document = oauth.http.get(path).json
        assert document is not None and "dpop_signing_alg_values_supported" not in document


def test_discovery_advertises_the_proof_algorithms(oauth: OAuthActions) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        document = oauth.http.get(path).json
        assert document is not None
        algs = document["dpop_signing_alg_values_supported"]
        assert "ES256" in algs and "Ed25519" in algs
        assert not {"none", "HS256"} & set(algs)


# -- REPLAY_CACHE_URI: Redis ---------------------------------------------------------------


@pytest.fixture
def redis_url(app_config: dict[str, Any]) -> Iterator[str]:
    """The replay cache in TEST_REDIS_URL; this test's proof ids are deleted afterwards."""
    yield from redis_replay_cache(app_config, REDIS_KEY_PREFIX)


@pytest.mark.redis
def test_the_redis_replay_cache_refuses_a_second_use(
    redis_url: str, app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    store = redis.Redis.from_url(redis_url)
    before = set(store.scan_iter(f"{REDIS_KEY_PREFIX}*"))
    proof = key.proof("POST", token_url(oauth))
    assert client_credentials(oauth, cc, proof).status_code == 200
    assert_error(client_credentials(oauth, cc, proof), "invalid_dpop_proof")
    with app.app_context():
        assert db.session.query(UsedDPoPProof).count() == 0  # Redis, not the database
    (name,) = [n for n in store.scan_iter(f"{REDIS_KEY_PREFIX}*") if n not in before]
    assert 0 < store.ttl(name) <= 300


@pytest.mark.redis
def test_with_redis_a_proof_sent_with_a_wrong_secret_stores_nothing(
    redis_url: str, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    store = redis.Redis.from_url(redis_url)
    before = set(store.scan_iter(f"{REDIS_KEY_PREFIX}*"))
    proof = key.proof("POST", token_url(oauth))
    wrong = RegisteredClient(cc.client_id, "not-the-secret", cc.metadata)
    assert client_credentials(oauth, wrong, proof).status_code == 401
    assert set(store.scan_iter(f"{REDIS_KEY_PREFIX}*")) == before
    assert client_credentials(oauth, cc, proof).status_code == 200


@pytest.mark.redis
def test_an_unreachable_redis_fails_closed(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, key: DPoPClient
) -> None:
    reconfigure(app, REPLAY_CACHE_URI="redis://127.0.0.1:1/0")
    response = client_credentials(oauth, cc, key.proof("POST", token_url(oauth)))
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "temporarily_unavailable"


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key_name"),
    [
        ({"REPLAY_CACHE_URI": "memcached://localhost"}, "REPLAY_CACHE_URI"),
        ({"REPLAY_CACHE_URI": "memory://"}, "REPLAY_CACHE_URI"),
        ({"DPOP_ENABLED": "yes"}, "DPOP_ENABLED"),
        ({"DPOP_NONCE_REQUIRED": 1}, "DPOP_NONCE_REQUIRED"),
        ({"DPOP_PROOF_MAX_AGE": 0}, "DPOP_PROOF_MAX_AGE"),
        ({"DPOP_PROOF_MAX_AGE": 86400}, "DPOP_PROOF_MAX_AGE"),
    ],
)
def test_bad_dpop_settings_are_refused_at_start(
    instance_path: Any, settings: dict[str, Any], key_name: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{key_name}: "):
        create_app(settings)


def test_a_resource_server_learns_nothing_about_a_bound_refresh_token(
    oauth: OAuthActions, pub: RegisteredClient, clients: ClientFactory, key: DPoPClient, bob: Any
) -> None:
    """IN-01 (RFC 7662 §4): refresh tokens are none of a resource server's business, bound
    or not; a public client cannot authenticate at /introspect to ask about its own."""
    api = clients.create(
        client_name="Print API", grant_types=["client_credentials"], resource_server=True
    )
    bound = code_flow(oauth, pub, key.proof("POST", token_url(oauth)))["refresh_token"]
    assert oauth.introspect(api, bound).json == {"active": False}

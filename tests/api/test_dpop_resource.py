"""DPoP at the photo API and /userinfo (RFC 9449 §7, §9; RFC 9728 metadata)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers import reconfigure
from tests.oauth.dpop_support import DPoPClient, challenges, code_flow
from tests.oauth.helpers import OAuthActions, RegisteredClient

SCOPE = "openid photos.read"
PHOTOS = "/api/v1/photos"


@pytest.fixture
def key() -> DPoPClient:
    return DPoPClient()


@pytest.fixture
def bound_token(
    oauth: OAuthActions, photoprint: RegisteredClient, key: DPoPClient, bob: Any
) -> str:
    """bob's access token, bound to ``key`` (RFC 9449 §6.1)."""
    tokens = code_flow(oauth, photoprint, key.proof("POST", f"{oauth.issuer}/token"), SCOPE)
    assert tokens["token_type"] == "DPoP"
    return str(tokens["access_token"])


@pytest.fixture
def bearer_token(oauth: OAuthActions, photoprint: RegisteredClient, bob: Any) -> str:
    return str(code_flow(oauth, photoprint, None, SCOPE)["access_token"])


def url(app: Flask, path: str) -> str:
    return str(app.config["OAUTH_ISSUER"]) + path


def call(
    client: FlaskClient, token: str, proof: str | None, path: str = PHOTOS,
    scheme: str = "DPoP", method: str = "GET",
) -> TestResponse:  # fmt: skip
    headers = {"Authorization": f"{scheme} {token}"} | ({"DPoP": proof} if proof else {})
    return client.open(path, method=method, headers=headers)


def assert_401(response: TestResponse, scheme: str, error: str) -> dict[str, dict[str, str]]:
    """401 whose challenge for ``scheme`` names ``error``; returns both challenges."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == error
    found = challenges(response.headers.getlist("WWW-Authenticate"))
    assert set(found) == {"Bearer", "DPoP"}
    assert found[scheme]["error"] == error
    other = "Bearer" if scheme == "DPoP" else "DPoP"
    assert "error" not in found[other]
    return found


def test_a_bound_token_with_its_proof_reads_photos_and_userinfo(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str, bob: Any
) -> None:
    proof = key.proof("GET", url(app, PHOTOS), access_token=bound_token)
    response = call(client, bound_token, proof)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and "items" in response.json
    proof = key.proof("GET", url(app, "/userinfo"), access_token=bound_token)
    response = call(client, bound_token, proof, "/userinfo")
    assert response.status_code == 200 and response.json is not None
    assert response.json["sub"] == str(bob.id)


def test_a_bound_token_sent_as_bearer_is_invalid_token(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str
) -> None:
    """§7.2 / §6.1: a stolen bound token is useless without the key, even as Bearer."""
    proof = key.proof("GET", url(app, PHOTOS), access_token=bound_token)
    assert_401(call(client, bound_token, proof, scheme="Bearer"), "Bearer", "invalid_token")
    assert_401(call(client, bound_token, None, scheme="Bearer"), "Bearer", "invalid_token")


def test_an_unbound_token_with_the_dpop_scheme_is_invalid_token(
    app: Flask, client: FlaskClient, key: DPoPClient, bearer_token: str
) -> None:
    proof = key.proof("GET", url(app, PHOTOS), access_token=bearer_token)
    assert_401(call(client, bearer_token, proof), "DPoP", "invalid_token")
    assert call(client, bearer_token, None, scheme="Bearer").status_code == 200


def test_a_proof_by_another_key_is_invalid_token(
    app: Flask, client: FlaskClient, bound_token: str
) -> None:
    """§7.1: the proof's key must be the one in cnf.jkt."""
    proof = DPoPClient().proof("GET", url(app, PHOTOS), access_token=bound_token)
    assert_401(call(client, bound_token, proof), "DPoP", "invalid_token")


BAD_PROOFS: dict[str, Any] = {
    "missing": lambda k, app, token: None,
    "no ath": lambda k, app, token: k.proof("GET", url(app, PHOTOS)),
    "ath of another token": lambda k, app, token: k.proof(
        "GET", url(app, PHOTOS), access_token=token + "x"
    ),
    "htm POST": lambda k, app, token: k.proof("POST", url(app, PHOTOS), access_token=token),
    "htu /token": lambda k, app, token: k.proof("GET", url(app, "/token"), access_token=token),
    "typ JWT": lambda k, app, token: k.proof(
        "GET", url(app, PHOTOS), access_token=token, header={"typ": "JWT"}
    ),
    "iat too old": lambda k, app, token: k.proof(
        "GET", url(app, PHOTOS), access_token=token, iat=1_000_000_000
    ),
}


@pytest.mark.parametrize("kind", BAD_PROOFS)
def test_a_bad_proof_at_the_api_is_invalid_dpop_proof(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str, kind: str
) -> None:
    proof = BAD_PROOFS[kind](key, app, bound_token)
    found = assert_401(call(client, bound_token, proof), "DPoP", "invalid_dpop_proof")
    assert "ES256" in found["DPoP"]["algs"].split()


def test_a_proof_is_accepted_once_at_the_api(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str
) -> None:
    proof = key.proof("GET", url(app, PHOTOS), access_token=bound_token)
    assert call(client, bound_token, proof).status_code == 200
    assert_401(call(client, bound_token, proof), "DPoP", "invalid_dpop_proof")


def test_insufficient_scope_goes_on_the_dpop_challenge(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str
) -> None:
    proof = key.proof("POST", url(app, PHOTOS), access_token=bound_token)
    response = call(client, bound_token, proof, method="POST")
    assert response.status_code == 403
    found = challenges(response.headers.getlist("WWW-Authenticate"))
    assert found["DPoP"]["error"] == "insufficient_scope"
    assert found["DPoP"]["scope"] == "photos.write"


def test_no_token_gets_both_challenges_bearer_first(app: Flask, client: FlaskClient) -> None:
    """§7.1: ``WWW-Authenticate: DPoP algs="..."`` beside the Bearer challenge, as two lines."""
    response = client.get(PHOTOS)
    assert response.status_code == 401
    lines = response.headers.getlist("WWW-Authenticate")
    assert [line.split(" ")[0] for line in lines] == ["Bearer", "DPoP"]
    dpop = challenges(lines)["DPoP"]
    assert "error" not in dpop
    assert dpop["algs"].split()[0] == "ES256" and "none" not in dpop["algs"]
    assert dpop["resource_metadata"].endswith("/.well-known/oauth-protected-resource/api/v1")


def test_when_disabled_only_bearer_is_spoken(
    app: Flask, client: FlaskClient, key: DPoPClient, bound_token: str, bearer_token: str
) -> None:
    reconfigure(app, DPOP_ENABLED=False)
    lines = client.get(PHOTOS).headers.getlist("WWW-Authenticate")
    assert [line.split(" ")[0] for line in lines] == ["Bearer"]
    proof = key.proof("GET", url(app, PHOTOS), access_token=bound_token)
    assert call(client, bound_token, proof).status_code == 401  # the DPoP scheme is unknown
    assert call(client, bound_token, proof, scheme="Bearer").status_code == 401
    assert call(client, bearer_token, None, scheme="Bearer").status_code == 200
    document = client.get("/.well-known/oauth-protected-resource/api/v1").json
    assert document is not None and "dpop_signing_alg_values_supported" not in document
    assert "dpop_bound_access_tokens_required" not in document


def test_protected_resource_metadata_advertises_dpop(client: FlaskClient) -> None:
    """RFC 9728 §2."""
    document = client.get("/.well-known/oauth-protected-resource/api/v1").json
    assert document is not None
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert document["dpop_bound_access_tokens_required"] is False


# -- §9: resource server nonces ------------------------------------------------------------


@pytest.fixture
def nonces(app_config: dict[str, Any]) -> None:
    app_config["DPOP_NONCE_REQUIRED"] = True


def test_the_api_asks_for_its_nonce_and_accepts_it(
    nonces: None, app: Flask, client: FlaskClient, oauth: OAuthActions,
    photoprint: RegisteredClient, key: DPoPClient, bob: Any,
) -> None:  # fmt: skip
    token_url = f"{oauth.issuer}/token"
    first = oauth.http.post("/token", headers={"DPoP": key.proof("POST", token_url)})
    nonce = first.headers["DPoP-Nonce"]
    tokens = code_flow(oauth, photoprint, key.proof("POST", token_url, nonce=nonce), SCOPE)
    token = str(tokens["access_token"])

    refused = call(client, token, key.proof("GET", url(app, PHOTOS), access_token=token))
    assert_401(refused, "DPoP", "use_dpop_nonce")
    fresh = refused.headers["DPoP-Nonce"]
    proof = key.proof("GET", url(app, PHOTOS), access_token=token, nonce=fresh)
    accepted = call(client, token, proof)
    assert accepted.status_code == 200
    assert accepted.headers["DPoP-Nonce"]

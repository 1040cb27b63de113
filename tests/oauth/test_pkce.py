"""PKCE: S256 required of every client, verifier checked, a failed check burns the code.

Covers docs/security.md group B (PK-01..PK-06): RFC 7636 §4.1-§4.6; RFC 9700 §2.1.1, §4.8;
OAuth 2.1 §4.1.1, §4.1.3. Tessera requires S256 for public and confidential clients alike:
a missing or non-S256 challenge is a redirect error ``invalid_request`` with ``state`` and
``iss``, and no code is issued.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import Authorization, AuthorizationCode
from tests.oauth.helpers import FlowResult, OAuthActions, RegisteredClient, query_of

CLIENTS = ["pub", "conf"]
UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"


# -- helpers ----------------------------------------------------------------------------
def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def assert_token_error(response: TestResponse, *errors: str, status: int = 400) -> None:
    body = response.json
    assert response.status_code == status, response.get_data(as_text=True)
    assert body is not None
    assert body["error"] in errors
    assert "access_token" not in body
    assert response.headers["Cache-Control"] == "no-store"


def assert_pkce_refused(oauth: OAuthActions, client: RegisteredClient, response: TestResponse,
                        state: str) -> None:  # fmt: skip
    """A redirect error invalid_request to the registered URI: state, iss, and no code."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == "invalid_request"
    assert params["state"] == state
    assert params["iss"] == oauth.issuer
    assert "code" not in params


def redeem(oauth: OAuthActions, client: RegisteredClient, flow: FlowResult,
           verifier: str | None) -> TestResponse:  # fmt: skip
    return oauth.token(
        client,
        grant_type="authorization_code",
        code=flow.code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
    )


@pytest.fixture(params=CLIENTS)
def any_client(request: pytest.FixtureRequest) -> RegisteredClient:
    client: RegisteredClient = request.getfixturevalue(request.param)
    return client


@pytest.fixture
def consented(oauth: OAuthActions, any_client: RegisteredClient, bob: Any) -> OAuthActions:
    """bob is signed in and has allowed the client: a valid request gets a code at once."""
    oauth.approve(any_client)
    return oauth


# -- PK-01, PK-02: a challenge, S256 only ------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge": None},
        {"code_challenge": ""},
        {"code_challenge_method": None},
        {"code_challenge_method": ""},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "s256"},
        {"code_challenge_method": "S512"},
        {"code_challenge_method": "S256 "},
    ],
    ids=lambda params: ",".join(f"{k}={v!r}" for k, v in params.items()),
)
def test_authorization_request_without_s256_challenge_is_refused(
    consented: OAuthActions, any_client: RegisteredClient, app: Flask, params: dict[str, Any]
) -> None:
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(any_client, state="pk-1", **params)
    assert_pkce_refused(consented, any_client, response, "pk-1")
    assert count_rows(app, AuthorizationCode) == before


def test_plain_challenge_equal_to_verifier_is_refused(
    consented: OAuthActions, any_client: RegisteredClient, app: Flask
) -> None:
    verifier = "v" * 43
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(
        any_client, state="pk-2", code_challenge=verifier, code_challenge_method="plain"
    )
    assert_pkce_refused(consented, any_client, response, "pk-2")
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_discovery_advertises_only_s256(oauth: OAuthActions, path: str) -> None:
    response = oauth.http.get(path)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["code_challenge_methods_supported"] == ["S256"]


def test_s256_flow_issues_tokens(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(any_client)
    response = redeem(oauth, any_client, flow, flow.verifier)
    assert response.status_code == 200, response.get_data(as_text=True)


# -- PK-03: the verifier is required when a challenge was sent ---------------------------
@pytest.mark.parametrize("verifier", [None, ""], ids=["omitted", "empty"])
def test_token_request_without_code_verifier_is_refused(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any, app: Flask, verifier: str | None
) -> None:
    flow = oauth.approve(any_client)
    authorizations_before = count_rows(app, Authorization)
    response = redeem(oauth, any_client, flow, verifier)
    assert_token_error(response, "invalid_grant", "invalid_request")
    assert count_rows(app, Authorization) == authorizations_before


# -- PK-04: a wrong verifier is refused and burns the code -------------------------------
@pytest.mark.parametrize(
    "wrong",
    ["w" * 43, "w" * 128, "the-right-one-with-one-char-changed"],
    ids=["43-chars", "128-chars", "near-miss"],
)
def test_wrong_code_verifier_is_refused_and_burns_the_code(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any, wrong: str
) -> None:
    flow = oauth.approve(any_client)
    if wrong.startswith("the-right-one"):
        wrong = flow.verifier[:-1] + ("A" if flow.verifier[-1] != "A" else "B")
    response = redeem(oauth, any_client, flow, wrong)
    assert_token_error(response, "invalid_grant")
    retry = redeem(oauth, any_client, flow, flow.verifier)
    assert_token_error(retry, "invalid_grant")


def test_verifier_of_another_flow_is_refused(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any
) -> None:
    first = oauth.approve(any_client)
    second = oauth.approve(any_client)
    response = redeem(oauth, any_client, second, first.verifier)
    assert_token_error(response, "invalid_grant")
    # the other flow is untouched
    ok = redeem(oauth, any_client, first, first.verifier)
    assert ok.status_code == 200, ok.get_data(as_text=True)


def test_challenge_sent_as_verifier_is_refused(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(any_client)
    response = redeem(oauth, any_client, flow, s256(flow.verifier))
    assert_token_error(response, "invalid_grant")


# -- PK-05: no downgrade -----------------------------------------------------------------
def test_confidential_client_cannot_skip_pkce_and_add_a_verifier_later(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    """RFC 9700 §4.8.2: a request without challenge yields no code to pair a verifier with."""
    oauth.approve(conf)
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(
        conf, state="pk-5", code_challenge=None, code_challenge_method=None
    )
    assert_pkce_refused(oauth, conf, response, "pk-5")
    assert count_rows(app, AuthorizationCode) == before


# -- PK-06: ABNF of verifier and challenge -----------------------------------------------
BAD_VERIFIERS = {
    "one-char": "a",
    "42-chars": "a" * 42,
    "129-chars": "a" * 129,
    "nul": "a" * 42 + "\x00",
    "plus": "a" * 42 + "+",
    "slash": "a" * 42 + "/",
    "equals": "a" * 42 + "=",
    "space": "a" * 42 + " ",
    "percent": "a" * 42 + "%",
    "non-ascii": "a" * 42 + "é",
}


@pytest.mark.parametrize("verifier", BAD_VERIFIERS.values(), ids=BAD_VERIFIERS.keys())
def test_verifier_outside_rfc7636_abnf_is_refused_even_if_it_hashes_to_the_challenge(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any, verifier: str
) -> None:
    flow = oauth.approve(any_client, code_challenge=s256(verifier))
    assert flow.params.get("code"), flow.params
    response = redeem(oauth, any_client, flow, verifier)
    assert_token_error(response, "invalid_grant", "invalid_request")


@pytest.mark.parametrize(
    "verifier", [UNRESERVED[:43], (UNRESERVED * 2)[:128]], ids=["43-chars", "128-chars"]
)
def test_verifier_at_the_abnf_length_limits_with_unreserved_characters_works(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any, verifier: str
) -> None:
    flow = oauth.approve(any_client, code_challenge=s256(verifier))
    response = redeem(oauth, any_client, flow, verifier)
    assert response.status_code == 200, response.get_data(as_text=True)


BAD_CHALLENGES = {
    "10-chars": "a" * 10,
    "42-chars": "a" * 42,
    "129-chars": "a" * 129,
    "plus-slash-equals": "a" * 40 + "+/=",
    "padded-base64": base64.b64encode(hashlib.sha256(b"x" * 43).digest()).decode(),
    "space": "a" * 42 + " ",
}


def test_a_nul_in_the_challenge_is_refused_before_anything_reads_it(
    consented: OAuthActions, any_client: RegisteredClient, app: Flask
) -> None:
    """NUL is refused for every parameter of every request (400 page, no redirect, no code)."""
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(any_client, state="pk-6", code_challenge="a" * 42 + "\x00")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize("challenge", BAD_CHALLENGES.values(), ids=BAD_CHALLENGES.keys())
def test_challenge_outside_rfc7636_abnf_is_refused(
    consented: OAuthActions, any_client: RegisteredClient, app: Flask, challenge: str
) -> None:
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(any_client, state="pk-6", code_challenge=challenge)
    assert_pkce_refused(consented, any_client, response, "pk-6")
    assert count_rows(app, AuthorizationCode) == before

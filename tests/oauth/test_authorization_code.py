"""Authorization codes: single use, replay revokes, short-lived, bound to the client, opaque.

Covers docs/security.md group D (AC-01..AC-09): RFC 6749 §4.1.2, §4.1.3, §5.2, §10.5, §10.10;
OAuth 2.1 §4.1.3, §7.5.2; RFC 9700 §2.1.2, §4.2.4; RFC 6819 §4.6.7; RFC 7662 §2.2.
AC-02 replays at once rather than after 30 s (the rule does not depend on the delay), and
AC-06 samples 200 codes instead of 1,000 to keep the run short.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import Authorization, AuthorizationCode, Consent, RefreshToken
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.lanes import Clock
from tests.oauth.helpers import (
    CONSENT_TICKET,
    ClientFactory,
    FlowResult,
    OAuthActions,
    RegisteredClient,
    query_of,
)

B64URL_22 = re.compile(r"[A-Za-z0-9_-]{22,}")
OFFLINE = "openid profile offline_access photos.read"
Others = dict[str, RegisteredClient]
Replay = tuple[TestResponse, str, int | tuple[int, ...]]


# -- helpers ----------------------------------------------------------------------------
def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def assert_token_error(
    response: TestResponse, error: str, status: int | tuple[int, ...] = 400
) -> None:
    """RFC 6749 §5.2: JSON error, no-store, and no token in the body."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert body["error"] == error
    assert not {"access_token", "refresh_token", "id_token"} & set(body)


def redeem(oauth: OAuthActions, client: RegisteredClient, flow: FlowResult,
           **overrides: Any) -> TestResponse:  # fmt: skip
    fields = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": (client.metadata.get("redirect_uris") or [None])[0],
        "code_verifier": flow.verifier,
    } | overrides
    return oauth.token(client, **fields)


def redeemed(oauth: OAuthActions, client: RegisteredClient, flow: FlowResult) -> dict[str, Any]:
    response = redeem(oauth, client, flow)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def is_active(oauth: OAuthActions, resource_server: RegisteredClient, token: str) -> bool:
    response = oauth.introspect(resource_server, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None
    return bool(response.json["active"])


def refresh(oauth: OAuthActions, client: RegisteredClient, refresh_token: str) -> TestResponse:
    return oauth.token(client, grant_type="refresh_token", refresh_token=refresh_token)


def assert_tokens_still_work(oauth: OAuthActions, rs: RegisteredClient,
                             body: dict[str, Any], owner: RegisteredClient) -> None:  # fmt: skip
    """A resource server sees only access tokens (IN-01); a confidential owner sees its
    refresh token (a public client cannot authenticate at /introspect)."""
    assert oauth.userinfo(body["access_token"]).status_code == 200
    assert is_active(oauth, rs, body["access_token"])
    if owner.client_secret:
        assert is_active(oauth, owner, body["refresh_token"])


@pytest.fixture(params=["conf", "pub"])
def any_client(request: pytest.FixtureRequest) -> RegisteredClient:
    client: RegisteredClient = request.getfixturevalue(request.param)
    return client


@pytest.fixture
def rs(clients: ClientFactory) -> RegisteredClient:
    """A resource server: may introspect every client's tokens."""
    return clients.create(
        client_name="Photo API",
        grant_types=["client_credentials"],
        scope="photos.read",
        resource_server=True,
    )


@pytest.fixture
def twin(clients: ClientFactory) -> RegisteredClient:
    """Another confidential client registered with conf's very redirect URI."""
    return clients.create(
        client_name="Twin",
        redirect_uris=["https://app.test/cb"],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile email offline_access photos.read photos.write",
    )


# -- AC-01: single use -------------------------------------------------------------------
def test_code_redeemed_twice_is_refused_the_second_time(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(any_client)
    redeemed(oauth, any_client, flow)
    assert_token_error(redeem(oauth, any_client, flow), "invalid_grant")


# -- AC-02: a valid replay revokes what the code issued ----------------------------------
def test_code_replay_revokes_the_tokens_it_issued(
    oauth: OAuthActions, any_client: RegisteredClient, bob: Any, rs: RegisteredClient
) -> None:
    flow = oauth.approve(any_client, scope=OFFLINE)
    first = redeemed(oauth, any_client, flow)
    assert_tokens_still_work(oauth, rs, first, any_client)

    assert_token_error(redeem(oauth, any_client, flow), "invalid_grant")

    userinfo = oauth.userinfo(first["access_token"])
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers.get("WWW-Authenticate", "")
    assert not is_active(oauth, rs, first["access_token"])
    if any_client.client_secret:
        assert not is_active(oauth, any_client, first["refresh_token"])
    assert_token_error(refresh(oauth, any_client, first["refresh_token"]), "invalid_grant")


# -- AC-03: an invalid replay does not revoke (no DoS by a code thief) --------------------
def _wrong_verifier(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    return redeem(oauth, conf, flow, code_verifier="w" * 43), "invalid_grant", 400


def _no_verifier(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    response = redeem(oauth, conf, flow, code_verifier=None)
    error = response.json["error"] if response.json else ""
    assert error in ("invalid_grant", "invalid_request")
    return response, error, 400


def _wrong_secret(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    impostor = dataclasses.replace(conf, client_secret="not-the-secret")
    return redeem(oauth, impostor, flow), "invalid_client", 401


def _as_public_client(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    response = oauth.http.post("/token", data={
        "grant_type": "authorization_code", "code": flow.code, "client_id": conf.client_id,
        "redirect_uri": conf.redirect_uri, "code_verifier": flow.verifier,
    })  # fmt: skip
    return response, "invalid_client", (400, 401)  # 401 only required with an auth header


def _other_client(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    return redeem(oauth, others["twin"], flow), "invalid_grant", 400


def _wrong_redirect_uri(
    oauth: OAuthActions, conf: RegisteredClient, flow: FlowResult, others: Others
) -> Replay:
    return redeem(oauth, conf, flow, redirect_uri="https://evil.test/cb"), "invalid_grant", 400


BAD_REPLAYS = {
    "wrong-verifier": _wrong_verifier,
    "no-verifier": _no_verifier,
    "wrong-secret": _wrong_secret,
    "no-client-auth": _as_public_client,
    "other-client": _other_client,
    "wrong-redirect-uri": _wrong_redirect_uri,
}


@pytest.mark.parametrize("replay", BAD_REPLAYS.values(), ids=BAD_REPLAYS.keys())
def test_replay_that_fails_authentication_or_pkce_does_not_revoke(
    oauth: OAuthActions,
    conf: RegisteredClient,
    twin: RegisteredClient,
    rs: RegisteredClient,
    bob: Any,
    replay: Any,
) -> None:
    flow = oauth.approve(conf, scope=OFFLINE)
    first = redeemed(oauth, conf, flow)
    response, error, status = replay(oauth, conf, flow, {"twin": twin})
    assert_token_error(response, error, status)
    assert_tokens_still_work(oauth, rs, first, conf)
    rotated = refresh(oauth, conf, first["refresh_token"])
    assert rotated.status_code == 200, rotated.get_data(as_text=True)


# -- AC-04: short lifetime ---------------------------------------------------------------
class TestShortCodeLifetime:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return app_config | {"OAUTH_CODE_TTL": 1}

    def test_code_redeemed_after_its_lifetime_is_refused(
        self, oauth: OAuthActions, any_client: RegisteredClient, bob: Any, app: Flask, clock: Clock
    ) -> None:
        flow = oauth.approve(any_client, scope=OFFLINE)
        clock.advance(1.2)
        authorizations_before = count_rows(app, RefreshToken)
        assert_token_error(redeem(oauth, any_client, flow), "invalid_grant")
        assert count_rows(app, RefreshToken) == authorizations_before


# -- AC-05: bound to the client ----------------------------------------------------------
@pytest.mark.parametrize("thief_name", ["pkj", "twin", "pub"])
def test_code_redeemed_by_another_client_is_invalid_grant(
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
    app: Flask,
    request: pytest.FixtureRequest,
    thief_name: str,
) -> None:
    thief: RegisteredClient = request.getfixturevalue(thief_name)
    flow = oauth.approve(conf)
    authorizations_before = count_rows(app, Authorization)
    assert_token_error(redeem(oauth, thief, flow), "invalid_grant")
    assert count_rows(app, Authorization) == authorizations_before


def test_client_without_the_code_grant_cannot_redeem_codes(
    oauth: OAuthActions, conf: RegisteredClient, cc: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf)
    response = redeem(oauth, cc, flow, redirect_uri=conf.redirect_uri)
    assert_token_error(response, "unauthorized_client")


# -- AC-06: codes are unguessable --------------------------------------------------------
def test_codes_are_unique_and_at_least_128_bits_of_base64url(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf)
    codes = []
    for _ in range(200):
        response, _ = oauth.authorize(conf)
        assert response.status_code == 302
        codes.append(query_of(response.headers["Location"])["code"])
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert B64URL_22.fullmatch(code), code


def test_refresh_tokens_and_token_ids_are_at_least_128_bits_of_base64url(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    bodies = [oauth.tokens_for(conf, scope=OFFLINE) for _ in range(3)]
    refresh_tokens = [body["refresh_token"] for body in bodies]
    jtis = [jwt_claims(body["access_token"])["jti"] for body in bodies]
    for value in refresh_tokens + jtis:
        assert B64URL_22.fullmatch(value), value
    assert len(set(refresh_tokens)) == 3 and len(set(jtis)) == 3


# -- AC-07: nothing but a code is accepted as a code --------------------------------------
@pytest.fixture
def lookalikes(oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
               ) -> tuple[dict[str, str], FlowResult]:  # fmt: skip
    """Values an attacker may hold, and an unused code flow to pair them with."""
    oauth.sign_in()
    query, verifier = oauth.authorize_params(conf, scope=OFFLINE)
    path = "/authorize?" + urlencode(query)
    page = oauth.http.get(path)
    ticket = CONSENT_TICKET.search(page.get_data(as_text=True))
    assert ticket
    answer = oauth.decide(page, path)
    flow = FlowResult(answer, query_of(answer.headers["Location"]), verifier)
    body = redeemed(oauth, conf, flow)
    unused = oauth.approve(conf, scope=OFFLINE)
    access = jwt_claims(body["access_token"])
    with app.app_context():
        consent_id = db.session.scalar(select(Consent.id))
    values = {
        "access_token": body["access_token"],
        "refresh_token": body["refresh_token"],
        "id_token": body["id_token"],
        "jti": access["jti"],
        "authorization_id": access["gid"],
        "consent_id": str(consent_id),
        "consent_ticket": ticket.group(1),
        "state": unused.params["state"],
        "client_secret": conf.client_secret or "",
        "client_id": conf.client_id,
        "stored_code_hash": hashlib.sha256(unused.code.encode()).hexdigest(),
        "used_code_with_suffix": flow.code + "x",
        "unused_code_truncated": unused.code[:-1],
        "unused_code_upper": unused.code.upper(),
    }
    return values, unused


LOOKALIKE_KINDS = [
    "access_token",
    "refresh_token",
    "id_token",
    "jti",
    "authorization_id",
    "consent_id",
    "consent_ticket",
    "state",
    "client_secret",
    "client_id",
    "stored_code_hash",
    "used_code_with_suffix",
    "unused_code_truncated",
    "unused_code_upper",
]


@pytest.mark.parametrize("kind", LOOKALIKE_KINDS)
def test_other_values_are_not_accepted_as_a_code(
    oauth: OAuthActions,
    conf: RegisteredClient,
    app: Flask,
    lookalikes: tuple[dict[str, str], FlowResult],
    kind: str,
) -> None:
    values, unused = lookalikes
    authorizations_before = count_rows(app, Authorization)
    assert_token_error(redeem(oauth, conf, unused, code=values[kind]), "invalid_grant")
    assert count_rows(app, Authorization) == authorizations_before
    # the genuine code still works: the refusal was about the value, not the setup
    assert redeem(oauth, conf, unused).status_code == 200


def test_missing_code_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf)
    assert_token_error(redeem(oauth, conf, flow, code=None), "invalid_request")


# -- AC-08: codes and state do not leak through Referer -------------------------------------
def _login_page(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.http.get("/login")


def _login_redirect(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf)[0]


def _login_post(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    token = csrf_token_from(oauth.http.get("/login").get_data(as_text=True))
    form = {"username": "bob", "password": DEFAULT_PASSWORD, "csrf_token": token}
    return oauth.http.post("/login", data=form)


def _consent_page(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    oauth.sign_in()
    return oauth.authorize(conf)[0]


def _code_redirect(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.approve(conf).response


def _error_redirect(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, prompt="none")[0]


def _error_page(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, redirect_uri="https://evil.test/cb")[0]


REFERRER_PAGES = {
    "login-page": _login_page,
    "login-redirect": _login_redirect,
    "login-post": _login_post,
    "consent-page": _consent_page,
    "code-redirect": _code_redirect,
    "error-redirect": _error_redirect,
    "error-page": _error_page,
}


@pytest.mark.parametrize("page", REFERRER_PAGES.values(), ids=REFERRER_PAGES.keys())
def test_login_consent_and_error_responses_send_no_referrer(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, page: Any
) -> None:
    response = page(oauth, conf)
    assert response.status_code < 500
    assert response.headers.get("Referrer-Policy") == "no-referrer"


# -- AC-09: only the code grant at /authorize; no implicit, no password -------------------
@pytest.mark.parametrize(
    "response_type", ["token", "id_token", "code token", "code id_token", "id_token token"]
)
def test_implicit_and_hybrid_response_types_are_unsupported(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask, response_type: str
) -> None:
    oauth.approve(conf)
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(conf, response_type=response_type, state="rt-1")
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith(conf.redirect_uri + "?") and "#" not in location
        params = query_of(location)
        assert params["error"] == "unsupported_response_type"
        assert params["state"] == "rt-1"
        assert not {"code", "access_token", "id_token"} & set(params)
    else:
        assert "unsupported_response_type" in response.get_data(as_text=True)
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "implicit",
        "token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "AUTHORIZATION_CODE",
    ],
)
def test_unsupported_grant_types_are_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask, grant_type: str
) -> None:
    response = oauth.token(
        conf, grant_type=grant_type, username="bob", password=DEFAULT_PASSWORD, scope="openid"
    )
    assert_token_error(response, "unsupported_grant_type")
    assert count_rows(app, Authorization) == 0


def test_client_credentials_client_cannot_use_the_authorization_endpoint(
    oauth: OAuthActions, cc: RegisteredClient, bob: Any, app: Flask
) -> None:
    oauth.sign_in()
    response = oauth.http.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": cc.client_id,
            "scope": "photos.read",
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_rows(app, AuthorizationCode) == 0


def test_code_client_cannot_use_client_credentials(
    oauth: OAuthActions, conf: RegisteredClient, app: Flask
) -> None:
    response = oauth.token(conf, grant_type="client_credentials", scope="photos.read")
    assert_token_error(response, "unauthorized_client")
    assert count_rows(app, Authorization) == 0

"""OpenID Connect: ID tokens, the UserInfo endpoint and RP-initiated logout.

Covers OIDC Core 1.0 §2 and §3.1.3.6-3.1.3.7 (ID token claims, at_hash), §5.3-5.4 (UserInfo,
claims by scope), RFC 6750 §2.1-2.3 (bearer in header or form body, never the query);
OIDC RP-Initiated Logout 1.0 §2-§4, §6; docs/security.md JW-10, ST-03, RV-07, LO-01.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from werkzeug.test import TestResponse

from app.services import keys
from tests.helpers import csrf_token_from
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient

ISSUER = "http://127.0.0.1:5000"
BYE = "https://app.test/bye"
SIGNED_IN = "Signed in as"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of SHA-256 (for ES256 and RS256) of the ASCII token."""
    return b64(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def published_keys(client: FlaskClient) -> KeySet:
    jwks = client.get("/jwks.json").json
    assert jwks is not None
    return KeySet.import_key_set(jwks)


def signed_in(oauth: OAuthActions) -> bool:
    return SIGNED_IN in oauth.http.get("/").get_data(as_text=True)


@pytest.fixture
def rs256(clients: ClientFactory) -> RegisteredClient:
    return clients.create(
        client_name="RSA relying party",
        redirect_uris=["https://rs.test/cb"],
        grant_types=["authorization_code"],
        scope="openid profile email",
        id_token_signed_response_alg="RS256",
    )


# -- ID tokens (JW-10) ------------------------------------------------------------------------
def test_id_token_carries_the_claims_of_oidc_core_3_1_3_7_and_verifies_es256(
    client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    before = int(time.time())
    body = oauth.tokens_for(conf, scope="openid profile", nonce="n-123")
    after = int(time.time())
    id_token = body["id_token"]
    header = segment(id_token, 0)
    assert header["alg"] == "ES256"
    assert header["kid"] in {key.kid for key in published_keys(client)}
    verified = jwt.decode(id_token, published_keys(client), algorithms=["ES256"]).claims
    assert verified["iss"] == ISSUER
    assert verified["sub"] == str(bob.id)
    assert verified["aud"] == [conf.client_id]
    assert verified["azp"] == conf.client_id
    assert verified["nonce"] == "n-123"
    assert verified["at_hash"] == at_hash(body["access_token"])
    assert isinstance(verified["auth_time"], int)
    assert before - 1 <= verified["auth_time"] <= after + 1
    assert before - 1 <= verified["iat"] <= after + 1
    assert verified["exp"] - verified["iat"] == 600
    assert segment(body["access_token"], 1)["sub"] == verified["sub"]


def test_id_token_is_signed_rs256_for_a_client_registered_with_that_alg(
    client: FlaskClient, oauth: OAuthActions, rs256: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(rs256, scope="openid profile", nonce="n-rsa")
    id_token = body["id_token"]
    header = segment(id_token, 0)
    assert header["alg"] == "RS256"
    rsa_kids = {key.kid for key in published_keys(client) if key.key_type == "RSA"}
    assert header["kid"] in rsa_kids
    claims = jwt.decode(id_token, published_keys(client), algorithms=["RS256"]).claims
    assert claims["aud"] == [rs256.client_id]
    assert claims["azp"] == rs256.client_id
    assert claims["nonce"] == "n-rsa"
    assert claims["at_hash"] == at_hash(body["access_token"])
    with pytest.raises(JoseError):
        jwt.decode(id_token, published_keys(client), algorithms=["ES256"])
    # The access token stays an ES256 RFC 9068 token whatever the ID token alg.
    assert segment(body["access_token"], 0)["alg"] == "ES256"


def test_code_flow_without_nonce_succeeds_and_the_id_token_has_no_nonce(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, scope="openid")
    claims = segment(body["id_token"], 1)
    assert "nonce" not in claims
    assert claims["aud"] == [conf.client_id]


def test_no_id_token_without_the_openid_scope(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, scope="photos.read")
    assert "id_token" not in body
    assert "access_token" in body


# -- UserInfo --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "name", "preferred_username"}),
        ("openid email", {"sub", "email", "email_verified"}),
        (
            "openid profile email",
            {"sub", "name", "preferred_username", "email", "email_verified"},
        ),
        ("openid photos.read offline_access", {"sub"}),
    ],
)
def test_userinfo_releases_claims_by_scope(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, scope: str, expected: set[str]
) -> None:
    token = oauth.tokens_for(conf, scope=scope)["access_token"]
    response = oauth.userinfo(token)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    claims = response.json
    assert claims is not None
    assert set(claims) == expected
    values = {
        "sub": str(bob.id),
        "name": "bob",
        "preferred_username": "bob",
        "email": "bob@example.com",
        "email_verified": False,
    }
    assert claims == {name: values[name] for name in expected}


def _userinfo_by(oauth: OAuthActions, how: str, token: str) -> TestResponse:
    if how == "get-header":
        return oauth.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    if how == "post-header":
        return oauth.http.post("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert how == "post-form-body"
    return oauth.http.post("/userinfo", data={"access_token": token})


@pytest.mark.parametrize("how", ["get-header", "post-header", "post-form-body"])
def test_userinfo_answers_get_and_post_with_the_token_in_header_or_form_body(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, how: str
) -> None:
    token = oauth.tokens_for(conf, scope="openid email")["access_token"]
    response = _userinfo_by(oauth, how, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {
        "sub": str(bob.id),
        "email": "bob@example.com",
        "email_verified": False,
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_ignores_an_access_token_in_the_query_string(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, method: str
) -> None:
    token = oauth.tokens_for(conf, scope="openid")["access_token"]
    response = oauth.http.open("/userinfo?" + urlencode({"access_token": token}), method=method)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_userinfo_ignores_an_access_token_in_a_json_body(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = oauth.tokens_for(conf, scope="openid")["access_token"]
    response = oauth.http.post("/userinfo", json={"access_token": token})
    assert response.status_code == 401


def test_userinfo_needs_the_openid_scope(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = oauth.tokens_for(conf, scope="profile photos.read")["access_token"]
    response = oauth.userinfo(token)
    assert response.status_code == 403
    assert response.json is not None and response.json["error"] == "insufficient_scope"
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="openid"' in challenge


# -- RP-initiated logout ---------------------------------------------------------------------
@pytest.fixture
def session_tokens(oauth: OAuthActions, conf: RegisteredClient, bob: Any) -> dict[str, Any]:
    """bob signed in on this browser, and the tokens ``conf`` got from that sign-in."""
    body = oauth.tokens_for(conf, scope="openid profile")
    assert signed_in(oauth)
    return body


@pytest.mark.parametrize("with_client_id", [False, True])
def test_logout_with_id_token_hint_returns_to_the_registered_uri_with_state_and_signs_out(
    oauth: OAuthActions,
    conf: RegisteredClient,
    session_tokens: dict[str, Any],
    with_client_id: bool,
) -> None:
    params = {
        "id_token_hint": session_tokens["id_token"],
        "post_logout_redirect_uri": BYE,
        "state": "bye-42",
    }
    if with_client_id:
        params["client_id"] = conf.client_id
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[-900:]
    assert response.headers["Location"] == f"{BYE}?state=bye-42"
    assert not signed_in(oauth)


def test_logout_posted_by_the_relying_party_with_id_token_hint_is_honoured(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any]
) -> None:
    """RP-Initiated Logout §2: the OP MUST support POST with form serialization."""
    form = {
        "id_token_hint": session_tokens["id_token"],
        "post_logout_redirect_uri": BYE,
        "state": "bye-post",
    }
    response = oauth.http.post("/end-session", data=form)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[-900:]
    assert response.headers["Location"] == f"{BYE}?state=bye-post"
    assert not signed_in(oauth)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/bye",
        "https://app.test/bye/",
        "https://app.test/bye?next=https://evil.test",
        "https://APP.test/bye",
        "https://app.test/cb",
    ],
)
def test_logout_never_redirects_to_an_unregistered_post_logout_uri(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any], target: str
) -> None:
    params = {
        "id_token_hint": session_tokens["id_token"],
        "post_logout_redirect_uri": target,
        "state": "s",
    }
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.status_code < 500
    assert "Location" not in response.headers
    assert target not in response.get_data(as_text=True)


def _confirmation_form(html: str) -> re.Match[str] | None:
    return re.search(
        r'<form method="post" action="(/end-session[^"]*)">.*?'
        r'<button type="submit"[^>]*>Sign out</button>',
        html,
        re.S,
    )


def test_logout_without_id_token_hint_asks_for_confirmation_first(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any]
) -> None:
    query = urlencode({"client_id": conf.client_id, "post_logout_redirect_uri": BYE, "state": "s"})
    response = oauth.http.get(f"/end-session?{query}")
    assert response.status_code == 200
    assert "Location" not in response.headers
    html = response.get_data(as_text=True)
    form = _confirmation_form(html)
    assert form, "no Sign out confirmation form"
    assert signed_in(oauth), "signed out before the user confirmed"

    confirm = oauth.http.post(
        form.group(1).replace("&amp;", "&"), data={"csrf_token": csrf_token_from(html)}
    )
    assert confirm.status_code in (200, 302, 303)
    assert not confirm.headers.get("Location", "").startswith(BYE)
    assert not signed_in(oauth)


def test_logout_confirmation_cannot_be_forged_cross_site(
    oauth: OAuthActions, session_tokens: dict[str, Any]
) -> None:
    """A cross-site POST without the page's CSRF token and without id_token_hint is an RP's
    POST (§2) without a hint: it only shows the confirmation page."""
    response = oauth.http.post("/end-session", data={"state": "x"})
    assert response.status_code == 200
    assert _confirmation_form(response.get_data(as_text=True))
    assert signed_in(oauth)


def test_logout_with_a_forged_id_token_hint_is_an_error_and_never_redirects(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any]
) -> None:
    claims = segment(session_tokens["id_token"], 1)
    attacker = ECKey.generate_key("P-256", private=True)
    header = {"alg": "ES256", "kid": segment(session_tokens["id_token"], 0)["kid"]}
    forged = jwt.encode(header, claims, attacker, algorithms=["ES256"])
    params = {"id_token_hint": forged, "post_logout_redirect_uri": BYE, "state": "s"}
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert signed_in(oauth)


def test_logout_with_a_client_id_that_is_not_the_id_token_audience_is_an_error(
    oauth: OAuthActions,
    conf: RegisteredClient,
    pub: RegisteredClient,
    session_tokens: dict[str, Any],
) -> None:
    params = {
        "id_token_hint": session_tokens["id_token"],
        "client_id": pub.client_id,
        "post_logout_redirect_uri": BYE,
    }
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert signed_in(oauth)


# -- RP-initiated logout: whose token, whose session (LO-01) ----------------------------------
def _hidden_fields(html: str) -> dict[str, str]:
    return {
        name: value.replace("&amp;", "&")
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }


def _sign_with_our_key(app: Flask, claims: dict[str, Any], **header: Any) -> str:
    """A JWT signed by Tessera's active ES256 key: only the claims are not what we issue."""
    with app.app_context():
        kid, key = keys.active_key("ES256")
    return jwt.encode({"alg": "ES256", "kid": kid} | header, claims, key, algorithms=["ES256"])


@pytest.fixture
def carol_id_token(app: Flask, users: Any, conf: RegisteredClient) -> str:
    """An ID token carol got for ``conf`` in her own browser."""
    users.create("carol")
    carol = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    id_token: str = carol.tokens_for(conf, scope="openid", username="carol")["id_token"]
    return id_token


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_refuses_an_access_token_as_id_token_hint(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any], method: str
) -> None:
    """LO-01: an access token is signed by the same keys but identifies no ID token session."""
    params = {
        "id_token_hint": session_tokens["access_token"],
        "post_logout_redirect_uri": BYE,
        "state": "s",
    }
    if method == "GET":
        response = oauth.http.get("/end-session?" + urlencode(params))
    else:
        response = oauth.http.post("/end-session", data=params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert signed_in(oauth)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://other.test"},  # another issuer's claims under our signature
        {"scope": "openid"},  # looks like an access token
        {"client_id": "x", "gid": "g"},
        {"sub": None},
        {"aud": None},
    ],
)
def test_logout_refuses_a_hint_that_is_not_one_of_our_id_tokens(
    app: Flask,
    oauth: OAuthActions,
    conf: RegisteredClient,
    session_tokens: dict[str, Any],
    claims: dict[str, Any],
) -> None:
    mine = segment(session_tokens["id_token"], 1) | claims
    hint = _sign_with_our_key(app, {k: v for k, v in mine.items() if v is not None})
    params = {"id_token_hint": hint, "post_logout_redirect_uri": BYE}
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert signed_in(oauth)


def test_logout_refuses_a_hint_typed_as_an_access_token(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any]
) -> None:
    hint = _sign_with_our_key(app, segment(session_tokens["id_token"], 1), typ="at+jwt")
    response = oauth.http.get("/end-session?" + urlencode({"id_token_hint": hint}))
    assert response.status_code == 400
    assert signed_in(oauth)


def test_logout_accepts_an_expired_id_token_of_the_signed_in_user(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any]
) -> None:
    """RP-Initiated Logout §2: an expired ID token still identifies the client."""
    claims = segment(session_tokens["id_token"], 1)
    expired = claims | {"iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}
    params = {
        "id_token_hint": _sign_with_our_key(app, expired),
        "post_logout_redirect_uri": BYE,
        "state": "old",
    }
    response = oauth.http.get("/end-session?" + urlencode(params))
    assert response.headers.get("Location") == f"{BYE}?state=old"
    assert not signed_in(oauth)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_users_id_token_hint_asks_the_signed_in_user_first(
    oauth: OAuthActions,
    conf: RegisteredClient,
    session_tokens: dict[str, Any],
    carol_id_token: str,
    method: str,
) -> None:
    """LO-01: carol's hint while bob is signed in -> a confirmation page; bob stays signed in
    unless he confirms, and then goes back to the registered URI with state."""
    params = {"id_token_hint": carol_id_token, "post_logout_redirect_uri": BYE, "state": "c-1"}
    if method == "GET":
        response = oauth.http.get("/end-session?" + urlencode(params))
    else:  # a cross-site form POST: no CSRF token of ours
        response = oauth.http.post("/end-session", data=params)
    assert response.status_code == 200
    assert "Location" not in response.headers
    html = response.get_data(as_text=True)
    form = _confirmation_form(html)
    assert form, "no Sign out confirmation form"
    assert form.group(1) == "/end-session", "the hint must not travel in the form's URL"
    assert 'href="/">Stay signed in</a>' in html
    assert signed_in(oauth), "signed out before bob confirmed"

    fields = _hidden_fields(html)
    assert fields["id_token_hint"] == carol_id_token
    confirm = oauth.http.post("/end-session", data=fields)
    assert confirm.status_code == 303
    assert confirm.headers["Location"] == f"{BYE}?state=c-1"
    assert not signed_in(oauth)


def test_logout_confirmation_with_a_wrong_csrf_token_changes_nothing(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any], carol_id_token: str
) -> None:
    form = {"id_token_hint": carol_id_token, "csrf_token": "forged"}
    response = oauth.http.post("/end-session", data=form)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert signed_in(oauth)


def test_logout_confirmed_without_a_registered_uri_shows_the_signed_out_page(
    oauth: OAuthActions, conf: RegisteredClient, session_tokens: dict[str, Any], carol_id_token: str
) -> None:
    params = {"id_token_hint": carol_id_token, "post_logout_redirect_uri": "https://evil.test/"}
    page = oauth.http.get("/end-session?" + urlencode(params)).get_data(as_text=True)
    assert "evil.test" not in page
    confirm = oauth.http.post("/end-session", data=_hidden_fields(page))
    assert confirm.status_code == 200
    assert "Location" not in confirm.headers
    assert "You are signed out" in confirm.get_data(as_text=True)
    assert not signed_in(oauth)


def test_logout_with_nobody_signed_in_and_a_valid_hint_returns_to_the_client(
    app: Flask, conf: RegisteredClient, carol_id_token: str
) -> None:
    params = {"id_token_hint": carol_id_token, "post_logout_redirect_uri": BYE, "state": "z"}
    response = app.test_client().get("/end-session?" + urlencode(params))
    assert response.headers.get("Location") == f"{BYE}?state=z"

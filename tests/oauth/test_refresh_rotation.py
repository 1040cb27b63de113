"""Refresh tokens: rotation, reuse detection, client binding, scope and lifetime.

RFC 6749 §6 (refreshing an access token), RFC 9700 §4.14.2 (refresh token rotation and
reuse detection), OAuth 2.1 §4.3.1, OpenID Connect Core §11 (offline_access), ASVS 10.4.5,
10.4.8. docs/security.md rows RT-01, RT-02, RT-03 (Tessera has no grace window), RT-04, RT-05,
RT-06, and RV-06 for the refresh-token reuse path.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.lanes import Clock
from tests.oauth.helpers import OAuthActions, RegisteredClient

OFFLINE_SCOPE = "openid offline_access photos.read"
INACTIVE = {"active": False}


def refresh(
    oauth: OAuthActions, client: RegisteredClient | None, refresh_token: str, **form: Any
) -> TestResponse:
    return oauth.token(client, grant_type="refresh_token", refresh_token=refresh_token, **form)


def ok_json(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def assert_token_error(response: TestResponse, error: str, status: int = 400) -> None:
    """An RFC 6749 §5.2 error that issued nothing."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None and body["error"] == error
    assert "access_token" not in body and "refresh_token" not in body


def assert_bearer_rejected(oauth: OAuthActions, access_token: str) -> None:
    response = oauth.userinfo(access_token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def introspection(oauth: OAuthActions, client: RegisteredClient, token: str) -> Any:
    response = oauth.introspect(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def rotate(
    oauth: OAuthActions, client: RegisteredClient, first: dict[str, Any], times: int
) -> list[dict[str, Any]]:
    """The first token response followed by ``times`` successive refreshes."""
    chain = [first]
    for _ in range(times):
        chain.append(ok_json(refresh(oauth, client, chain[-1]["refresh_token"])))
    return chain


def test_each_refresh_returns_a_new_refresh_token_and_a_working_access_token(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    chain = rotate(oauth, conf, oauth.tokens_for(conf, scope=OFFLINE_SCOPE), times=3)
    refresh_tokens = [step["refresh_token"] for step in chain]
    assert len(set(refresh_tokens)) == len(refresh_tokens)
    for step in chain[1:]:
        assert step["token_type"] == "Bearer"
        assert step["scope"] == OFFLINE_SCOPE
        assert oauth.userinfo(step["access_token"]).json == {"sub": str(bob.id)}


def test_a_rotated_refresh_token_is_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """RT-01: RT1 -> RT2; RT1 again -> invalid_grant."""
    rt1 = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)["refresh_token"]
    ok_json(refresh(oauth, conf, rt1))
    assert_token_error(refresh(oauth, conf, rt1), "invalid_grant")


def test_replaying_a_rotated_refresh_token_revokes_the_whole_family(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """RT-02 and RV-06: after the replay no token of the grant works or introspects active."""
    first, second = rotate(oauth, conf, oauth.tokens_for(conf, scope=OFFLINE_SCOPE), times=1)
    assert_token_error(refresh(oauth, conf, first["refresh_token"]), "invalid_grant")
    assert_token_error(refresh(oauth, conf, second["refresh_token"]), "invalid_grant")
    for token in (first["access_token"], second["access_token"]):
        assert_bearer_rejected(oauth, token)
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert introspection(oauth, conf, token) == INACTIVE


@pytest.mark.parametrize("replayed", [0, 1], ids=["RT1", "RT2-immediate-predecessor"])
def test_replaying_any_ancestor_revokes_the_family_as_there_is_no_grace_window(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, replayed: int
) -> None:
    """RT-03: RT1 -> RT2 -> RT3, then an ancestor at once -> 400 and RT3 and every AT die."""
    chain = rotate(oauth, conf, oauth.tokens_for(conf, scope=OFFLINE_SCOPE), times=2)
    assert_token_error(refresh(oauth, conf, chain[replayed]["refresh_token"]), "invalid_grant")
    latest = chain[-1]
    assert_token_error(refresh(oauth, conf, latest["refresh_token"]), "invalid_grant")
    assert introspection(oauth, conf, latest["refresh_token"]) == INACTIVE
    for step in chain:
        assert_bearer_rejected(oauth, step["access_token"])
        assert introspection(oauth, conf, step["access_token"]) == INACTIVE


@pytest.mark.parametrize("thief", ["pkj", "pub"])
def test_a_refresh_token_works_only_for_the_client_it_was_issued_to(
    oauth: OAuthActions,
    conf: RegisteredClient,
    request: pytest.FixtureRequest,
    bob: Any,
    thief: str,
) -> None:
    """RT-04: another client (authenticated its own way) gets invalid_grant; conf still works."""
    other: RegisteredClient = request.getfixturevalue(thief)
    rt = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)["refresh_token"]
    assert_token_error(refresh(oauth, other, rt), "invalid_grant")
    assert "refresh_token" in ok_json(refresh(oauth, conf, rt))


@pytest.mark.parametrize(
    "refresh_token", ["garbage", "x" * 5000, "a.b.c"], ids=["unknown", "oversized", "jwt-shaped"]
)
def test_an_unknown_refresh_token_is_invalid_grant(
    oauth: OAuthActions, conf: RegisteredClient, refresh_token: str
) -> None:
    assert_token_error(refresh(oauth, conf, refresh_token), "invalid_grant")


def test_an_access_token_is_not_accepted_as_a_refresh_token(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)
    assert_token_error(refresh(oauth, conf, body["access_token"]), "invalid_grant")
    assert_token_error(refresh(oauth, conf, body["id_token"]), "invalid_grant")
    ok_json(refresh(oauth, conf, body["refresh_token"]))


def test_a_refresh_request_without_refresh_token_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    assert_token_error(oauth.token(conf, grant_type="refresh_token"), "invalid_request")


@pytest.mark.parametrize(
    "scope",
    [
        OFFLINE_SCOPE + " photos.write",
        "photos.write",
        OFFLINE_SCOPE + " email",
        OFFLINE_SCOPE + " admin",
    ],
    ids=["adds-photos.write", "only-photos.write", "adds-registered-but-ungranted", "unknown"],
)
def test_a_refresh_cannot_ask_for_more_than_was_granted(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, scope: str
) -> None:
    """RT-05: a scope beyond the original grant -> invalid_scope, no token."""
    rt = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)["refresh_token"]
    assert_token_error(refresh(oauth, conf, rt, scope=scope), "invalid_scope")


def test_a_narrower_refresh_is_allowed_and_the_next_one_stays_capped_at_the_original(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """RT-05: narrow to ``openid offline_access``; later refreshes may return to the original
    grant but never go beyond it."""
    rt = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)["refresh_token"]
    narrow = ok_json(refresh(oauth, conf, rt, scope="openid offline_access"))
    assert narrow["scope"] == "openid offline_access"
    assert introspection(oauth, conf, narrow["access_token"])["scope"] == "openid offline_access"
    wider = "openid offline_access photos.read photos.write"
    assert_token_error(refresh(oauth, conf, narrow["refresh_token"], scope=wider), "invalid_scope")
    back = ok_json(refresh(oauth, conf, narrow["refresh_token"]))
    assert back["scope"] == OFFLINE_SCOPE  # RFC 6749 §6: omitted = as originally granted
    again = ok_json(refresh(oauth, conf, back["refresh_token"], scope=OFFLINE_SCOPE))
    assert again["scope"] == OFFLINE_SCOPE


@pytest.mark.parametrize("scope", ["openid photos.read", "openid profile email photos.read"])
def test_no_refresh_token_is_issued_without_offline_access(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, scope: str
) -> None:
    """RT-06 (OIDC Core §11)."""
    body = oauth.tokens_for(conf, scope=scope)
    assert "access_token" in body
    assert "refresh_token" not in body


def test_a_client_without_the_refresh_token_grant_gets_no_refresh_token(
    oauth: OAuthActions, clients: Any, bob: Any
) -> None:
    code_only = clients.create(
        redirect_uris=["https://code.test/cb"],
        grant_types=["authorization_code"],
        scope="openid offline_access photos.read",
    )
    body = oauth.tokens_for(code_only, scope=OFFLINE_SCOPE)
    assert "refresh_token" not in body


class TestAbsoluteLifetime:
    """RT-06: a refresh family dies at OAUTH_REFRESH_TOKEN_MAX_AGE however often it rotates."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return app_config | {"OAUTH_REFRESH_TOKEN_MAX_AGE": 2}

    def test_refresh_after_the_absolute_lifetime_is_invalid_grant(
        self, oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
    ) -> None:
        first = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)
        rotated = ok_json(refresh(oauth, conf, first["refresh_token"]))
        clock.advance(2.5)
        assert_token_error(refresh(oauth, conf, rotated["refresh_token"]), "invalid_grant")
        assert introspection(oauth, conf, rotated["refresh_token"]) == INACTIVE

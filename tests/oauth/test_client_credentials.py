"""The client credentials grant: confidential clients acting for themselves.

RFC 6749 §4.4 (client credentials grant; §4.4.3 no refresh token SHOULD be issued), §3.3
(scope), §5.2 (invalid_scope, unauthorized_client, invalid_client), RFC 7662 §2.2 (``sub``
and ``client_id`` of the introspected token), RFC 9068 §2.2 (``sub`` is the client when the
client acts for itself). docs/security.md rows AC-09 (grants restricted per client) and L3's
client_credentials path.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import Authorization
from tests.oauth.helpers import OAuthActions, RegisteredClient

INACTIVE = {"active": False}


def client_credentials(
    oauth: OAuthActions, client: RegisteredClient | None, **form: Any
) -> TestResponse:
    return oauth.token(client, grant_type="client_credentials", **form)


def issued(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def assert_refused(
    response: TestResponse, errors: tuple[str, ...], statuses: tuple[int, ...] = (400,)
) -> None:
    """An RFC 6749 §5.2 error, one of ``errors``, and no token."""
    assert response.status_code in statuses, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None and body["error"] in errors, body
    assert "access_token" not in body


def authorization_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Authorization)) or 0


def introspection(oauth: OAuthActions, client: RegisteredClient, token: str) -> Any:
    response = oauth.introspect(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_a_client_credentials_token_has_no_refresh_token(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    body = issued(client_credentials(oauth, cc))
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "photos.read"
    assert body["expires_in"] > 0
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_a_client_credentials_token_introspects_active_for_its_own_client_with_sub_client_id(
    oauth: OAuthActions, cc: RegisteredClient, app: Flask
) -> None:
    token = issued(client_credentials(oauth, cc))["access_token"]
    payload = introspection(oauth, cc, token)
    assert payload["active"] is True
    assert payload["client_id"] == cc.client_id
    assert payload["sub"] == cc.client_id
    assert payload["scope"] == "photos.read"
    assert payload["iss"] == app.config["OAUTH_ISSUER"]


def test_another_client_cannot_introspect_a_client_credentials_token(
    oauth: OAuthActions, cc: RegisteredClient, conf: RegisteredClient
) -> None:
    token = issued(client_credentials(oauth, cc))["access_token"]
    assert introspection(oauth, conf, token) == INACTIVE


def test_a_private_key_jwt_client_gets_a_token_for_itself(
    oauth: OAuthActions, pkj: RegisteredClient
) -> None:
    body = issued(client_credentials(oauth, pkj, scope="photos.read photos.write"))
    assert body["scope"] == "photos.read photos.write"
    assert "refresh_token" not in body
    payload = introspection(oauth, pkj, body["access_token"])
    assert payload["sub"] == pkj.client_id
    assert payload["client_id"] == pkj.client_id


@pytest.mark.parametrize(
    "scope",
    ["photos.write", "photos.read photos.write", "openid", "offline_access", "admin", "email"],
)
def test_a_scope_beyond_the_registered_scope_is_invalid_scope(
    oauth: OAuthActions, cc: RegisteredClient, app: Flask, scope: str
) -> None:
    """RFC 6749 §3.3 / §5.2: cc is registered for ``photos.read`` only; nothing is issued."""
    assert_refused(client_credentials(oauth, cc, scope=scope), ("invalid_scope",))
    assert authorization_count(app) == 0


@pytest.mark.parametrize("scope", [None, "photos.read"])
def test_the_registered_scope_or_none_at_all_is_granted(
    oauth: OAuthActions, cc: RegisteredClient, scope: str | None
) -> None:
    """RFC 6749 §3.3: an absent scope gets the client's registered (default) scope."""
    assert issued(client_credentials(oauth, cc, scope=scope))["scope"] == "photos.read"


def test_a_public_client_cannot_use_client_credentials(
    oauth: OAuthActions, pub: RegisteredClient, app: Flask
) -> None:
    response = client_credentials(oauth, pub, scope="photos.read")
    assert_refused(response, ("unauthorized_client", "invalid_client"), (400, 401))
    assert authorization_count(app) == 0


def test_an_authorization_code_client_without_the_grant_is_unauthorized_client(
    oauth: OAuthActions, conf: RegisteredClient, app: Flask
) -> None:
    """AC-09: conf authenticates correctly but is not registered for client_credentials."""
    response = client_credentials(oauth, conf, scope="photos.read")
    assert_refused(response, ("unauthorized_client",))
    assert authorization_count(app) == 0


def test_a_client_credentials_client_cannot_use_the_code_or_refresh_grants(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    for form in (
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": "https://a.test/cb"},
        {"grant_type": "refresh_token", "refresh_token": "x"},
    ):
        assert_refused(oauth.token(cc, **form), ("unauthorized_client",))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"no-such-client:secret").decode()},
    ],
    ids=["no-credentials", "unknown-client"],
)
def test_client_credentials_without_valid_authentication_is_invalid_client(
    oauth: OAuthActions, cc: RegisteredClient, app: Flask, headers: dict[str, str]
) -> None:
    response = oauth.http.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert_refused(response, ("invalid_client",), (401,))
    assert authorization_count(app) == 0


def test_a_wrong_secret_gets_no_token(oauth: OAuthActions, cc: RegisteredClient) -> None:
    raw = f"{cc.client_id}:{cc.client_secret}x".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = oauth.http.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 401
    assert response.json is not None and response.json["error"] == "invalid_client"


def test_revoking_one_client_credentials_token_leaves_the_clients_other_tokens_working(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    """Revoking an access token revokes only that token (RFC 7009 §2.1)."""
    first = issued(client_credentials(oauth, cc))["access_token"]
    second = issued(client_credentials(oauth, cc))["access_token"]
    assert first != second
    assert oauth.revoke(cc, first).status_code == 200
    assert introspection(oauth, cc, first) == INACTIVE
    assert introspection(oauth, cc, second)["active"] is True
    third = issued(client_credentials(oauth, cc))["access_token"]
    assert introspection(oauth, cc, third)["active"] is True


def test_a_client_credentials_token_does_not_act_for_a_user_at_userinfo(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    """No user, no ``openid``: /userinfo refuses it (403 insufficient_scope)."""
    token = issued(client_credentials(oauth, cc))["access_token"]
    response = oauth.userinfo(token)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]

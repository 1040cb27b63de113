"""Revocation, introspection and the bearer checks a client meets at /userinfo.

RFC 7009 §2.1, §2.2 (revocation), RFC 7662 §2.1, §2.2, §4 (introspection), RFC 6750 §2, §3,
§3.1 (bearer token errors), OpenID Connect Core §5.3 (UserInfo), RFC 9068 §4 (token-type
confusion). docs/security.md rows RV-01 (checked at /userinfo and /introspect; the photo API does
not exist yet), RV-02, RV-03, RV-05, RV-06 (code replay, refresh reuse, both revocations),
RV-07 and RV-09 (at /userinfo).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from app.errors import ValidationError
from tests.lanes import Clock
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient
from tests.oauth.test_resource_indicators import tokens_for
from tests.oauth_fixtures import ALL_SCOPES

OFFLINE_SCOPE = "openid offline_access photos.read"
INACTIVE = {"active": False}
BARE_CHALLENGE = 'Bearer realm="tessera"'


@pytest.fixture
def api(clients: ClientFactory) -> RegisteredClient:
    """A resource server: may introspect every client's tokens."""
    return clients.create(
        client_name="Photo API",
        grant_types=["client_credentials"],
        scope="photos.read",
        resource_server=True,
    )


@pytest.fixture
def tokens(oauth: OAuthActions, conf: RegisteredClient, bob: Any) -> dict[str, Any]:
    """conf's token response for bob, with a refresh token."""
    return oauth.tokens_for(conf, scope=OFFLINE_SCOPE)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def refresh(oauth: OAuthActions, client: RegisteredClient, refresh_token: str) -> TestResponse:
    return oauth.token(client, grant_type="refresh_token", refresh_token=refresh_token)


def introspection(oauth: OAuthActions, client: RegisteredClient, token: str, **form: Any) -> Any:
    response = oauth.introspect(client, token, **form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def assert_active(oauth: OAuthActions, client: RegisteredClient, token: str) -> None:
    assert introspection(oauth, client, token)["active"] is True


def assert_dead(oauth: OAuthActions, client: RegisteredClient, access_token: str) -> None:
    """The access token fails at /userinfo and introspects exactly inactive."""
    response = oauth.userinfo(access_token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert introspection(oauth, client, access_token) == INACTIVE


def assert_error(response: TestResponse, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == error


# -- RV-01 / RV-02: what a revocation kills ----------------------------------------------


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_a_revoked_access_token_stops_working_at_once_and_only_that_token(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any], hint: str | None
) -> None:
    """RV-01: the hint only orders the lookup (RFC 7009 §2.1); the refresh token lives on."""
    response = oauth.revoke(conf, tokens["access_token"], token_type_hint=hint)
    assert response.status_code == 200
    assert_dead(oauth, conf, tokens["access_token"])
    assert_active(oauth, conf, tokens["refresh_token"])
    refreshed = refresh(oauth, conf, tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert oauth.userinfo(refreshed.json["access_token"]).status_code == 200  # type: ignore[index]


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_revoking_a_refresh_token_revokes_its_grant_and_every_access_token(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any], hint: str | None
) -> None:
    """RV-02: also access tokens minted by earlier refreshes of the same grant."""
    refreshed = refresh(oauth, conf, tokens["refresh_token"]).json
    assert refreshed is not None
    assert oauth.revoke(conf, refreshed["refresh_token"], token_type_hint=hint).status_code == 200
    for access_token in (tokens["access_token"], refreshed["access_token"]):
        assert_dead(oauth, conf, access_token)
    assert introspection(oauth, conf, refreshed["refresh_token"]) == INACTIVE
    assert_error(refresh(oauth, conf, refreshed["refresh_token"]), 400, "invalid_grant")


def test_revoking_one_grant_leaves_the_users_other_grants_alone(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any]
) -> None:
    other = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)
    assert oauth.revoke(conf, tokens["refresh_token"]).status_code == 200
    assert oauth.userinfo(other["access_token"]).status_code == 200
    assert_active(oauth, conf, other["refresh_token"])


# -- RV-03: revocation is authenticated and touches only the caller's tokens --------------


@pytest.mark.parametrize(
    "credentials",
    [
        lambda conf: ({}, {}),
        lambda conf: ({}, {"client_id": conf.client_id}),
        lambda conf: (basic(conf.client_id, "wrong-secret"), {}),
        lambda conf: ({}, {"client_id": conf.client_id, "client_secret": "wrong-secret"}),
    ],
    ids=["anonymous", "client_id-only", "wrong-basic-secret", "wrong-post-secret"],
)
def test_revocation_without_valid_client_authentication_is_invalid_client(
    oauth: OAuthActions,
    conf: RegisteredClient,
    tokens: dict[str, Any],
    credentials: Callable[[RegisteredClient], tuple[dict[str, str], dict[str, str]]],
) -> None:
    headers, form = credentials(conf)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = oauth.http.post("/revoke", data=form | {"token": token}, headers=headers)
        assert_error(response, 401, "invalid_client")
        assert_active(oauth, conf, token)


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_a_client_cannot_revoke_another_clients_token(
    oauth: OAuthActions,
    conf: RegisteredClient,
    pkj: RegisteredClient,
    tokens: dict[str, Any],
    kind: str,
) -> None:
    """RFC 7009 §2.1: answered 200 without revoking anything."""
    response = oauth.revoke(pkj, tokens[kind], token_type_hint=kind)
    assert response.status_code == 200
    assert_active(oauth, conf, tokens["access_token"])
    assert_active(oauth, conf, tokens["refresh_token"])
    assert oauth.userinfo(tokens["access_token"]).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 5000])
def test_revoking_an_unknown_token_answers_200(
    oauth: OAuthActions, conf: RegisteredClient, token: str
) -> None:
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    response = oauth.revoke(conf, token)
    assert response.status_code == 200


def test_revoking_twice_answers_200_both_times(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any]
) -> None:
    for _ in range(2):
        assert oauth.revoke(conf, tokens["refresh_token"]).status_code == 200
        assert oauth.revoke(conf, tokens["access_token"]).status_code == 200


def test_revocation_without_a_token_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    assert_error(oauth.post("/revoke", conf), 400, "invalid_request")


def test_a_public_client_may_revoke_its_own_token(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    """RFC 7009 §2.1: public clients identify themselves with client_id."""
    body = oauth.tokens_for(pub, scope=OFFLINE_SCOPE)
    assert oauth.revoke(pub, body["refresh_token"]).status_code == 200
    assert_error(refresh(oauth, pub, body["refresh_token"]), 400, "invalid_grant")
    assert oauth.userinfo(body["access_token"]).status_code == 401


# -- RV-05: introspection ------------------------------------------------------------------


def test_introspection_describes_an_active_access_token(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any], bob: Any, app: Any
) -> None:
    payload = introspection(oauth, conf, tokens["access_token"])
    assert payload["active"] is True
    assert payload["client_id"] == conf.client_id
    assert payload["sub"] == str(bob.id)
    assert payload["scope"] == OFFLINE_SCOPE
    assert payload["iss"] == app.config["OAUTH_ISSUER"]
    assert payload["exp"] > time.time() > payload["iat"] - 5


def test_introspection_describes_an_active_refresh_token(
    oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any], bob: Any
) -> None:
    payload = introspection(oauth, conf, tokens["refresh_token"], token_type_hint="refresh_token")
    assert payload["active"] is True
    assert payload["client_id"] == conf.client_id
    assert payload["sub"] == str(bob.id)
    assert payload["scope"] == OFFLINE_SCOPE


@pytest.mark.parametrize(
    "credentials",
    [
        lambda conf, at: ({}, {}),
        lambda conf, at: ({"Authorization": f"Bearer {at}"}, {}),
        lambda conf, at: ({}, {"client_id": conf.client_id}),
        lambda conf, at: (basic(conf.client_id, "wrong-secret"), {}),
    ],
    ids=["anonymous", "user-access-token-as-auth", "client_id-only", "wrong-secret"],
)
def test_introspection_needs_client_authentication(
    oauth: OAuthActions,
    conf: RegisteredClient,
    tokens: dict[str, Any],
    credentials: Callable[[RegisteredClient, str], tuple[dict[str, str], dict[str, str]]],
) -> None:
    headers, form = credentials(conf, tokens["access_token"])
    data = form | {"token": tokens["access_token"]}
    response = oauth.http.post("/introspect", data=data, headers=headers)
    assert_error(response, 401, "invalid_client")
    assert "active" not in response.json  # type: ignore[operator]


def test_a_public_client_cannot_introspect(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    """Introspection accepts client_secret_basic/post and private_key_jwt only."""
    body = oauth.tokens_for(pub, scope=OFFLINE_SCOPE)
    response = oauth.introspect(pub, body["access_token"])
    assert_error(response, 401, "invalid_client")


def test_introspection_accepts_client_secret_post_and_private_key_jwt(
    oauth: OAuthActions, clients: ClientFactory, pkj: RegisteredClient, bob: Any
) -> None:
    post_client = clients.create(
        redirect_uris=["https://post.test/cb"],
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="client_secret_post",
        scope=ALL_SCOPES,
    )
    for client in (post_client, pkj):
        body = oauth.tokens_for(client, scope=OFFLINE_SCOPE)
        assert introspection(oauth, client, body["access_token"])["client_id"] == client.client_id
        assert introspection(oauth, client, body["refresh_token"])["active"] is True


@pytest.mark.parametrize("token", ["garbage", "", "a.b.c", "x" * 5000, "eyJhbGciOiJub25lIn0.e30."])
def test_an_unknown_token_introspects_as_exactly_inactive(
    oauth: OAuthActions, conf: RegisteredClient, token: str
) -> None:
    assert introspection(oauth, conf, token) == INACTIVE


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_another_clients_token_introspects_as_exactly_inactive(
    oauth: OAuthActions,
    pkj: RegisteredClient,
    cc: RegisteredClient,
    tokens: dict[str, Any],
    kind: str,
) -> None:
    for stranger in (pkj, cc):
        assert introspection(oauth, stranger, tokens[kind]) == INACTIVE


def test_a_resource_server_may_introspect_another_clients_access_token_for_its_audience(
    oauth: OAuthActions,
    conf: RegisteredClient,
    api: RegisteredClient,
    tokens: dict[str, Any],
    bob: Any,
) -> None:
    payload = introspection(oauth, api, tokens["access_token"])
    assert payload["active"] is True
    assert payload["client_id"] == conf.client_id
    assert payload["sub"] == str(bob.id)


# -- IN-01: a resource server learns only about access tokens for its audience (RFC 7662 §4) --


def test_a_resource_server_learns_nothing_about_another_clients_refresh_token(
    oauth: OAuthActions, conf: RegisteredClient, api: RegisteredClient, tokens: dict[str, Any]
) -> None:
    assert introspection(oauth, api, tokens["refresh_token"]) == INACTIVE
    assert introspection(oauth, conf, tokens["refresh_token"])["active"] is True  # the owner


class TestAudiences:
    PRINT_API = "https://print.example/api"

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return app_config | {"OAUTH_EXTRA_RESOURCES": [self.PRINT_API]}

    @pytest.fixture
    def print_api(self, clients: ClientFactory) -> RegisteredClient:
        return clients.create(
            client_name="Print API",
            grant_types=["client_credentials"],
            scope="photos.read",
            resource_server=True,
            resource_audiences=[self.PRINT_API],
        )

    def test_a_resource_server_learns_nothing_about_another_audiences_access_token(
        self,
        oauth: OAuthActions,
        conf: RegisteredClient,
        api: RegisteredClient,
        print_api: RegisteredClient,
        bob: Any,
    ) -> None:
        for_print = oauth.tokens_for(conf, scope=OFFLINE_SCOPE, resource=self.PRINT_API)
        for_photos = oauth.tokens_for(conf, scope=OFFLINE_SCOPE)
        assert introspection(oauth, api, for_print["access_token"]) == INACTIVE
        assert introspection(oauth, print_api, for_photos["access_token"]) == INACTIVE
        payload = introspection(oauth, print_api, for_print["access_token"])
        assert payload["active"] is True and payload["aud"] == self.PRINT_API
        assert introspection(oauth, print_api, for_print["refresh_token"]) == INACTIVE
        assert introspection(oauth, conf, for_print["access_token"])["active"] is True

    def test_a_token_for_both_audiences_is_known_to_both_resource_servers(
        self,
        app: Any,
        oauth: OAuthActions,
        conf: RegisteredClient,
        api: RegisteredClient,
        print_api: RegisteredClient,
        bob: Any,
    ) -> None:
        both = [app.config["OAUTH_RESOURCE_AUDIENCE"], self.PRINT_API]
        token = tokens_for(oauth, conf, scope=OFFLINE_SCOPE, resource=both)["access_token"]
        assert introspection(oauth, api, token)["active"] is True
        assert introspection(oauth, print_api, token)["active"] is True

    def test_an_unknown_audience_is_refused_at_registration(self, clients: ClientFactory) -> None:
        with pytest.raises(ValidationError):
            clients.create(
                client_name="Rogue API",
                grant_types=["client_credentials"],
                resource_server=True,
                resource_audiences=["https://elsewhere.example/"],
            )


def test_an_expired_access_token_introspects_as_exactly_inactive(
    oauth: OAuthActions,
    conf: RegisteredClient,
    api: RegisteredClient,
    tokens: dict[str, Any],
    clock: Clock,
) -> None:
    """The server's clock is moved past the token's lifetime (and its leeway)."""
    clock.advance(3600)
    assert introspection(oauth, conf, tokens["access_token"]) == INACTIVE
    assert introspection(oauth, api, tokens["access_token"]) == INACTIVE
    assert oauth.userinfo(tokens["access_token"]).status_code == 401


class TestExpiredRefreshToken:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return app_config | {"OAUTH_REFRESH_TOKEN_TTL": 1}

    def test_an_expired_refresh_token_introspects_as_exactly_inactive(
        self, oauth: OAuthActions, conf: RegisteredClient, tokens: dict[str, Any], clock: Clock
    ) -> None:
        clock.advance(1.3)
        assert introspection(oauth, conf, tokens["refresh_token"]) == INACTIVE
        assert_error(refresh(oauth, conf, tokens["refresh_token"]), 400, "invalid_grant")


# -- RV-06: every revocation path shows in introspection ---------------------------------


def _revoke_access_token(oauth: OAuthActions, conf: RegisteredClient, flow: Any) -> None:
    oauth.revoke(conf, flow["tokens"]["access_token"])


def _revoke_refresh_token(oauth: OAuthActions, conf: RegisteredClient, flow: Any) -> None:
    oauth.revoke(conf, flow["tokens"]["refresh_token"])


def _replay_code(oauth: OAuthActions, conf: RegisteredClient, flow: Any) -> None:
    """AC-02: a replay with valid client auth and verifier revokes what the code issued."""
    assert_error(oauth.exchange(conf, flow["code"]), 400, "invalid_grant")


def _replay_refresh_token(oauth: OAuthActions, conf: RegisteredClient, flow: Any) -> None:
    """RT-02: rotate, then present the rotated token again."""
    rt = flow["tokens"]["refresh_token"]
    assert refresh(oauth, conf, rt).status_code == 200
    assert_error(refresh(oauth, conf, rt), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("path", "refresh_token_dies"),
    [
        (_revoke_access_token, False),
        (_revoke_refresh_token, True),
        (_replay_code, True),
        (_replay_refresh_token, True),
    ],
    ids=["revoke-access-token", "revoke-refresh-token", "code-replay", "refresh-token-replay"],
)
def test_every_revocation_path_is_reflected_in_introspection(
    oauth: OAuthActions,
    conf: RegisteredClient,
    api: RegisteredClient,
    bob: Any,
    path: Callable[[OAuthActions, RegisteredClient, Any], None],
    refresh_token_dies: bool,
) -> None:
    code = oauth.approve(conf, scope=OFFLINE_SCOPE)
    response = oauth.exchange(conf, code)
    assert response.status_code == 200
    flow = {"code": code, "tokens": response.json}
    path(oauth, conf, flow)
    access_token, refresh_token = flow["tokens"]["access_token"], flow["tokens"]["refresh_token"]
    assert_dead(oauth, conf, access_token)
    assert introspection(oauth, api, access_token) == INACTIVE
    if refresh_token_dies:
        assert introspection(oauth, conf, refresh_token) == INACTIVE
        assert introspection(oauth, api, refresh_token) == INACTIVE
        assert_error(refresh(oauth, conf, refresh_token), 400, "invalid_grant")


# -- RV-07 / RV-09: bearer errors at /userinfo ------------------------------------------


def test_userinfo_without_a_token_is_a_bare_bearer_challenge(oauth: OAuthActions) -> None:
    """RFC 6750 §3.1: no error code when the request carried no credentials."""
    for response in (oauth.http.get("/userinfo"), oauth.http.post("/userinfo")):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == BARE_CHALLENGE


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."],
    ids=["opaque", "jwt-shaped", "alg-none"],
)
def test_userinfo_with_a_bad_token_is_invalid_token(oauth: OAuthActions, token: str) -> None:
    response = oauth.userinfo(token)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(BARE_CHALLENGE)
    assert 'error="invalid_token"' in challenge


def test_a_token_in_the_query_string_is_ignored(
    oauth: OAuthActions, tokens: dict[str, Any]
) -> None:
    """OAuth 2.1 §5.1 / RFC 9700 §4.3.2: never read ``?access_token=``."""
    for method in (oauth.http.get, oauth.http.post):
        response = method(f"/userinfo?access_token={tokens['access_token']}")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == BARE_CHALLENGE
        assert "sub" not in (response.json or {})


@pytest.mark.parametrize("kind", ["id_token", "refresh_token"])
def test_an_id_token_or_refresh_token_is_not_a_bearer_token(
    oauth: OAuthActions, tokens: dict[str, Any], kind: str
) -> None:
    """RV-09 (RFC 9068 §4: only ``typ: at+jwt`` access tokens)."""
    response = oauth.userinfo(tokens[kind])
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_without_openid_at_userinfo_is_insufficient_scope(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, scope="photos.read")
    response = oauth.userinfo(body["access_token"])
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge
    assert response.json is not None and response.json["error"] == "insufficient_scope"

"""The code flow end to end through the test client: the path every other test varies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.oauth.helpers import OAuthActions, RegisteredClient


def test_code_flow_issues_tokens_and_userinfo_answers(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf, scope="openid profile email offline_access photos.read")
    assert flow.params["iss"] == "http://127.0.0.1:5000"
    response = oauth.exchange(conf, flow)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access photos.read"
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= set(body)
    info = oauth.userinfo(body["access_token"])
    assert info.json == {
        "sub": str(bob.id),
        "name": "bob",
        "preferred_username": "bob",
        "email": "bob@example.com",
        "email_verified": False,
    }


def test_disabling_the_user_ends_every_token_at_once(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, users: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    assert oauth.userinfo(tokens["access_token"]).status_code == 200
    users.disable("bob")
    assert oauth.userinfo(tokens["access_token"]).status_code == 401
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json is not None and refreshed.json["error"] == "invalid_grant"


def test_behind_a_tls_proxy_forwarded_proto_counts_as_https(
    app: Any, app_config: dict[str, Any], instance_path: Any
) -> None:
    """(``app`` is asked for so that its teardown empties the tables this test writes.)"""
    from app import create_app
    from tests.oauth.helpers import ClientFactory

    app = create_app(app_config | {"OAUTH_ISSUER": "https://id.example.com", "PROXY_FIX_X_FOR": 1})
    machine = ClientFactory(app).create(grant_types=["client_credentials"], scope="photos.read")
    oauth = OAuthActions(app.test_client(), "https://id.example.com")
    headers, _ = oauth.auth(machine)
    form = {"grant_type": "client_credentials"}
    internal = "http://tessera.internal"  # what the app sees behind the load balancer
    forwarded = oauth.http.post(
        "/token", data=form, base_url=internal, headers=headers | {"X-Forwarded-Proto": "https"}
    )
    assert forwarded.status_code == 200
    plain = oauth.http.post("/token", data=form, base_url=internal, headers=headers)
    assert plain.status_code == 400
    assert plain.json is not None and plain.json["error"] == "insecure_transport"


@pytest.mark.parametrize("app_config", [{"BIND": "127.0.0.1:8000"}], indirect=True)
def test_the_iss_parameter_names_the_port_served_on(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """``make run PORT=8000`` passes BIND; with no OAUTH_ISSUER set it is the issuer."""
    flow = oauth.approve(conf, scope="openid")
    assert flow.params["iss"] == "http://127.0.0.1:8000"
    payload = oauth.exchange(conf, flow).json["id_token"].split(".")[1]  # type: ignore[index]
    assert json.loads(base64.urlsafe_b64decode(payload + "=="))["iss"] == flow.params["iss"]

"""Resource indicators (RFC 8707): ``resource`` at /authorize and /token becomes the access
token's ``aud``, and the photo API accepts only tokens whose audience includes itself.

RFC 8707 §2 (absolute URI, no fragment, repeatable, ``invalid_target``), §2.1 (authorization
request), §2.2 (token request: narrowing within the grant, refresh, client credentials);
RFC 9068 §3 and RFC 7519 §4.1.3 (``aud`` a string or an array); RFC 9728 §2 (the photo API's
identifier is the ``resource`` of its metadata).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from werkzeug.test import TestResponse

from app import create_app
from app.config import ConfigError
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from, reconfigure
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import (
    CONSENT_TICKET,
    FlowResult,
    OAuthActions,
    RegisteredClient,
    pkce_pair,
    query_of,
)

PRINT_API = "https://print.example.test/api"
ARCHIVE = "http://127.0.0.1:9/archive"
EXTRA_RESOURCES = [PRINT_API, ARCHIVE]
SCOPE = "openid offline_access photos.read"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"OAUTH_EXTRA_RESOURCES": EXTRA_RESOURCES}


@pytest.fixture
def photo_api(app: Flask) -> str:
    """The photo API's identifier, as a client learns it from its RFC 9728 metadata."""
    response = app.test_client().get("/.well-known/oauth-protected-resource/api/v1")
    return str(response.get_json()["resource"])


# -- helpers -----------------------------------------------------------------------------------
def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def authorize_path(oauth: OAuthActions, client: RegisteredClient, **params: Any) -> tuple[str, str]:
    """An /authorize URL whose list values (several ``resource``) repeat the parameter."""
    query, verifier = oauth.authorize_params(client, **params)
    return "/authorize?" + urlencode(query, doseq=True), verifier


def approve(oauth: OAuthActions, client: RegisteredClient, **params: Any) -> FlowResult:
    """Sign bob in, allow on the consent page; the redirect back to the client."""
    path, verifier = authorize_path(oauth, client, **params)
    response = oauth.http.get(path)
    if response.status_code == 302 and response.headers["Location"].startswith("/login"):
        oauth.sign_in("bob")
        response = oauth.http.get(path)
    if response.status_code == 200:
        response = oauth.decide(response, path)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return FlowResult(response, query_of(response.headers["Location"]), verifier)


def tokens_for(
    oauth: OAuthActions, client: RegisteredClient, token_resource: Any = None, **params: Any
) -> dict[str, Any]:
    flow = approve(oauth, client, **params)
    assert "code" in flow.params, flow.params
    response = oauth.exchange(client, flow, resource=token_resource)
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def assert_invalid_target(response: TestResponse, description: str | None = None) -> None:
    """RFC 8707 §2 at the token endpoint: 400 JSON ``invalid_target``, never cached."""
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "invalid_target", body
    if description:
        assert description in body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "access_token" not in body


def api_call(oauth: OAuthActions, token: str) -> TestResponse:
    return oauth.http.get("/api/v1/photos", headers={"Authorization": f"Bearer {token}"})


# -- the photo API's identifier ----------------------------------------------------------------
def test_the_photo_api_identifier_is_the_default_audience(
    app: Flask, photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    assert photo_api == app.config["OAUTH_RESOURCE_AUDIENCE"]
    token = tokens_for(oauth, conf, scope=SCOPE)["access_token"]
    assert claims_of(token)["aud"] == photo_api  # no resource named: exactly as before
    assert api_call(oauth, token).status_code == 200


# -- §2.1 + §2.2: the code flow ----------------------------------------------------------------
def test_a_resource_at_authorize_becomes_the_audience(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, scope=SCOPE, resource=PRINT_API)["access_token"]
    assert claims_of(token)["aud"] == PRINT_API


def test_the_same_resource_at_authorize_and_token_is_the_audience(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, PRINT_API, scope=SCOPE, resource=PRINT_API)["access_token"]
    assert claims_of(token)["aud"] == PRINT_API


def test_the_photo_api_named_explicitly_accepts_its_token(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, photo_api, scope=SCOPE, resource=photo_api)["access_token"]
    assert claims_of(token)["aud"] == photo_api
    assert api_call(oauth, token).status_code == 200


def test_several_resources_give_an_array_audience_the_photo_api_accepts(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, scope=SCOPE, resource=[photo_api, PRINT_API])["access_token"]
    assert claims_of(token)["aud"] == [photo_api, PRINT_API]
    assert api_call(oauth, token).status_code == 200
    introspected = oauth.introspect(conf, token).get_json()
    assert introspected["active"] is True
    assert introspected["aud"] == [photo_api, PRINT_API]


def test_a_token_request_narrows_to_one_granted_resource(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, PRINT_API, scope=SCOPE, resource=[photo_api, PRINT_API])
    assert claims_of(token["access_token"])["aud"] == PRINT_API


def test_the_photo_api_refuses_a_token_for_another_resource(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, scope=SCOPE, resource=PRINT_API)["access_token"]
    response = api_call(oauth, token)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_accepts_a_token_for_any_of_our_resources(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """OIDC userinfo is not a resource indicator target: any access token with openid."""
    token = tokens_for(oauth, conf, scope=SCOPE, resource=PRINT_API)["access_token"]
    response = oauth.userinfo(token)
    assert response.status_code == 200
    assert response.get_json()["sub"] == str(bob.id)


def test_introspection_reports_the_resource_audience(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = tokens_for(oauth, conf, scope=SCOPE, resource=ARCHIVE)["access_token"]
    body = oauth.introspect(conf, token).get_json()
    assert body["active"] is True
    assert body["aud"] == ARCHIVE


def test_the_consent_page_names_a_resource_other_than_the_photo_api(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in("bob")
    path, _ = authorize_path(oauth, conf, scope=SCOPE, resource=PRINT_API)
    html = oauth.http.get(path).get_data(as_text=True)
    assert CONSENT_TICKET.search(html)
    assert f'<code class="resource">{PRINT_API}</code>' in html
    plain, _ = authorize_path(oauth, conf, scope=SCOPE)
    assert 'class="resource"' not in oauth.http.get(plain).get_data(as_text=True)


# -- §2.2: refresh -----------------------------------------------------------------------------
def test_refresh_narrows_each_access_token_and_keeps_the_grant_whole(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    first = tokens_for(oauth, conf, scope=SCOPE, resource=[photo_api, PRINT_API])
    narrowed = oauth.token(
        conf, grant_type="refresh_token", refresh_token=first["refresh_token"], resource=PRINT_API
    )
    assert narrowed.status_code == 200, narrowed.get_data(as_text=True)
    assert claims_of(narrowed.get_json()["access_token"])["aud"] == PRINT_API
    # The rotated refresh token still reaches every resource of the grant.
    other = oauth.token(
        conf,
        grant_type="refresh_token",
        refresh_token=narrowed.get_json()["refresh_token"],
        resource=photo_api,
    )
    assert claims_of(other.get_json()["access_token"])["aud"] == photo_api
    whole = oauth.token(
        conf, grant_type="refresh_token", refresh_token=other.get_json()["refresh_token"]
    )
    assert claims_of(whole.get_json()["access_token"])["aud"] == [photo_api, PRINT_API]


def test_refresh_cannot_reach_a_resource_outside_the_grant(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    first = tokens_for(oauth, conf, scope=SCOPE, resource=PRINT_API)
    refused = oauth.token(
        conf, grant_type="refresh_token", refresh_token=first["refresh_token"], resource=ARCHIVE
    )
    assert_invalid_target(refused, "not part of this authorization")
    # The refused request did not spend the refresh token.
    again = oauth.token(conf, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 200
    assert claims_of(again.get_json()["access_token"])["aud"] == PRINT_API


def test_a_grant_without_resources_refreshes_only_to_the_photo_api(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    first = tokens_for(oauth, conf, scope=SCOPE)
    refused = oauth.token(
        conf, grant_type="refresh_token", refresh_token=first["refresh_token"], resource=PRINT_API
    )
    assert_invalid_target(refused)
    named = oauth.token(
        conf, grant_type="refresh_token", refresh_token=first["refresh_token"], resource=photo_api
    )
    assert claims_of(named.get_json()["access_token"])["aud"] == photo_api


# -- §2: invalid_target at the authorization endpoint ------------------------------------------
BAD_RESOURCES = [
    pytest.param("/api/v1", "absolute URI", id="relative"),
    pytest.param("print.example.test/api", "absolute URI", id="no-scheme"),
    pytest.param("", "absolute URI", id="empty"),
    pytest.param(PRINT_API + "#frag", "fragment", id="fragment"),
    pytest.param("https://unknown.example.test/api", "unknown resource", id="unknown"),
    pytest.param(PRINT_API + "/", "unknown resource", id="trailing-slash"),
]


@pytest.mark.parametrize(("resource", "description"), BAD_RESOURCES)
def test_a_bad_resource_at_authorize_redirects_invalid_target(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, resource: str, description: str
) -> None:
    oauth.sign_in("bob")
    path, _ = authorize_path(oauth, conf, scope=SCOPE, resource=resource, state="st-8707")
    response = oauth.http.get(path)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(conf.redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == "invalid_target"
    assert description in params["error_description"]
    assert params["state"] == "st-8707"
    assert params["iss"] == oauth.issuer
    assert "code" not in params


def test_one_bad_resource_among_good_ones_fails_the_request(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in("bob")
    path, _ = authorize_path(oauth, conf, scope=SCOPE, resource=[photo_api, "/relative"])
    params = query_of(oauth.http.get(path).headers["Location"])
    assert params["error"] == "invalid_target"
    assert "code" not in params


def test_a_bad_resource_with_an_unknown_redirect_uri_is_shown_not_redirected(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """RFC 6749 §4.1.2.1: the redirect URI is checked first and never trusted when wrong."""
    path, _ = authorize_path(
        oauth, conf, scope=SCOPE, resource="/relative", redirect_uri="https://evil.test/cb"
    )
    response = oauth.http.get(path)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_bad_resource_is_refused_before_sign_in(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    path, _ = authorize_path(oauth, conf, scope=SCOPE, resource="https://unknown.test/")
    response = oauth.http.get(path)
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_target"


# -- §2: invalid_target at the token endpoint --------------------------------------------------
@pytest.mark.parametrize(("resource", "description"), BAD_RESOURCES)
def test_a_bad_resource_at_token_is_invalid_target(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, resource: str, description: str
) -> None:
    flow = approve(oauth, conf, scope=SCOPE, resource=PRINT_API)
    assert_invalid_target(oauth.exchange(conf, flow, resource=resource), description)


def test_a_token_request_resource_outside_the_authorization_is_invalid_target(
    photo_api: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = approve(oauth, conf, scope=SCOPE, resource=PRINT_API)
    refused = oauth.exchange(conf, flow, resource=[PRINT_API, photo_api])
    assert_invalid_target(refused, "not part of this authorization")
    # The refused exchange did not spend the code: the client may correct its request.
    accepted = oauth.exchange(conf, flow, resource=PRINT_API)
    assert accepted.status_code == 200
    assert claims_of(accepted.get_json()["access_token"])["aud"] == PRINT_API


def test_a_known_resource_not_asked_at_authorize_is_invalid_target(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = approve(oauth, conf, scope=SCOPE)
    assert_invalid_target(oauth.exchange(conf, flow, resource=PRINT_API))


# -- §2.2: client credentials ------------------------------------------------------------------
def test_client_credentials_may_name_any_known_resource(
    photo_api: str, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    plain = oauth.token(cc, grant_type="client_credentials")
    assert claims_of(plain.get_json()["access_token"])["aud"] == photo_api
    one = oauth.token(cc, grant_type="client_credentials", resource=ARCHIVE)
    assert one.status_code == 200, one.get_data(as_text=True)
    assert claims_of(one.get_json()["access_token"])["aud"] == ARCHIVE
    both = oauth.token(cc, grant_type="client_credentials", resource=[ARCHIVE, PRINT_API])
    assert claims_of(both.get_json()["access_token"])["aud"] == [ARCHIVE, PRINT_API]


@pytest.mark.parametrize(("resource", "description"), BAD_RESOURCES)
def test_client_credentials_with_a_bad_resource_is_invalid_target(
    oauth: OAuthActions, cc: RegisteredClient, resource: str, description: str
) -> None:
    response = oauth.token(cc, grant_type="client_credentials", resource=resource)
    assert_invalid_target(response, description)


def test_a_resource_removed_from_the_settings_is_refused(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    reconfigure(app, OAUTH_EXTRA_RESOURCES=[ARCHIVE])
    response = oauth.token(cc, grant_type="client_credentials", resource=PRINT_API)
    assert_invalid_target(response, "unknown resource")


# -- settings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "https://print.example.test/api",  # a string, not a list
        ["/relative"],
        ["print.example.test"],
        ["https://print.example.test/api#x"],
        ["http://print.example.test/api"],  # plain http off loopback
        ["ftp://print.example.test/"],
        [42],
        ["https://[broken/"],
    ],
)
def test_bad_extra_resources_stop_the_start(instance_path: Path, value: Any) -> None:
    with pytest.raises(ConfigError, match="^OAUTH_EXTRA_RESOURCES: "):
        create_app({"OAUTH_EXTRA_RESOURCES": value})


def test_extra_resources_come_from_a_json_environment_variable(
    instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_OAUTH_EXTRA_RESOURCES", json.dumps(EXTRA_RESOURCES))
    assert create_app().config["OAUTH_EXTRA_RESOURCES"] == EXTRA_RESOURCES


def test_no_extra_resources_by_default(instance_path: Path) -> None:
    assert create_app().config["OAUTH_EXTRA_RESOURCES"] == []


# -- a live server and a real client -----------------------------------------------------------
@pytest.fixture
def gunicorn(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    """Tessera under gunicorn with the extra resources set as a deployment would (JSON)."""
    settings = live_settings(app_config, instance_path)
    settings["FLASK_OAUTH_EXTRA_RESOURCES"] = json.dumps(EXTRA_RESOURCES)
    server = LiveServer(settings, tmp_path / "gunicorn.log").start()
    yield server
    server.stop()


def browser_approves(
    base: str, client: RegisteredClient, resources: list[str], verifier_challenge: tuple[str, str]
) -> str:
    """Bob signs in and allows, with requests as the browser; returns the code."""
    _, challenge = verifier_challenge
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPE,
        "state": "live",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resources,
    }
    path = "/authorize?" + urlencode(query, doseq=True)
    with requests.Session() as browser:
        login = browser.get(f"{base}/login", timeout=10)
        form = {"username": "bob", "password": DEFAULT_PASSWORD}
        form["csrf_token"] = csrf_token_from(login.text)
        browser.post(f"{base}/login", data=form, timeout=10, allow_redirects=False)
        page = browser.get(base + path, timeout=10)
        ticket = CONSENT_TICKET.search(page.text)
        assert ticket, page.text[:500]
        granted = re.findall(r'name="granted_scope" value="([^"]+)"', page.text)
        decision = {
            "csrf_token": csrf_token_from(page.text),
            "consent_ticket": ticket.group(1),
            "decision": "allow",
            "granted_scope": granted,
        }
        answer = browser.post(base + path, data=decision, timeout=10, allow_redirects=False)
    assert answer.status_code == 303, answer.text[:500]
    params = query_of(answer.headers["Location"])
    assert params["state"] == "live" and params["iss"] == base
    return params["code"]


@pytest.mark.live
def test_live_code_flow_with_resources_through_gunicorn(
    gunicorn: LiveServer, conf: RegisteredClient, bob: Any
) -> None:
    base = gunicorn.url
    photo_api = requests.get(f"{base}/.well-known/oauth-protected-resource", timeout=10).json()[
        "resource"
    ]
    pair = pkce_pair()
    code = browser_approves(base, conf, [photo_api, PRINT_API], pair)
    auth = (conf.client_id, conf.client_secret or "")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": conf.redirect_uri,
        "code_verifier": pair[0],
        "resource": photo_api,
    }
    issued = requests.post(f"{base}/token", data=form, auth=auth, timeout=10)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert claims_of(body["access_token"])["aud"] == photo_api
    photos = f"{base}/api/v1/photos"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(photos, headers=bearer, timeout=10).status_code == 200, gunicorn.log()

    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    printing = requests.post(
        f"{base}/token", data=refresh | {"resource": PRINT_API}, auth=auth, timeout=10
    )
    assert printing.status_code == 200, printing.text
    print_token = printing.json()["access_token"]
    assert claims_of(print_token)["aud"] == PRINT_API
    refused = requests.get(photos, headers={"Authorization": f"Bearer {print_token}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"

    unknown = requests.post(
        f"{base}/token",
        data=refresh | {"refresh_token": printing.json()["refresh_token"], "resource": ARCHIVE},
        auth=auth,
        timeout=10,
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_target"
    assert unknown.headers["Cache-Control"] == "no-store"

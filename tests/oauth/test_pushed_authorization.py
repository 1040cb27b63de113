"""Pushed authorization requests (RFC 9126): the /par endpoint and request_uri at /authorize.

Covers §2 (client authentication, validation as at /authorize, 201 with request_uri and
expires_in, no-store), §2.1 (request_uri cannot be pushed, client_id must match), §2.3 (every
error it names: invalid_request, invalid_client, 405, 413, 429, plus the authorization
errors), §4 (request_uri at /authorize, one-time use, expiry, client binding, parameters
replace the query's), §5 and §6 (PAR required globally or per client; discovery).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from app.models.types import utcnow
from tests.helpers import reconfigure
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient, client_assertion
from tests.oauth.par_helpers import (
    REQUEST_URI_PREFIX,
    Pushed,
    assert_error_page,
    code_count,
    flow_result,
    follow,
    push,
    push_raw,
    row_of,
    set_row,
)

ISSUER = "http://127.0.0.1:5000"


def assert_json_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers


# -- §2: the pushed authorization request endpoint -------------------------------------------
def test_push_answers_201_with_a_one_time_request_uri_and_its_lifetime(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _, _ = push_raw(oauth, conf)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(REQUEST_URI_PREFIX)
    assert len(body["request_uri"]) > len(REQUEST_URI_PREFIX) + 40  # 256 random bits
    row = row_of(app, body["request_uri"])  # stored by digest only
    assert row.client_id == conf.client_id and row.used_at is None and row.first_seen_at is None
    assert timedelta(seconds=55) < row.expires_at - utcnow() <= timedelta(seconds=60)
    second, _, _ = push_raw(oauth, conf)
    assert second.json["request_uri"] != body["request_uri"]


@pytest.mark.limits(PAR_REQUEST_TTL=90)
def test_expires_in_follows_the_configured_lifetime(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _, _ = push_raw(oauth, conf)
    assert response.json["expires_in"] == 90


@pytest.mark.parametrize("name", ["conf", "pub", "pkj"])
def test_each_client_authentication_method_of_the_token_endpoint_works_at_par(
    oauth: OAuthActions, name: str, request: pytest.FixtureRequest
) -> None:
    """client_secret_basic, none (public client, PKCE) and private_key_jwt."""
    client: RegisteredClient = request.getfixturevalue(name)
    response, _, _ = push_raw(oauth, client)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    ("audience", "status"), [(ISSUER, 201), (f"{ISSUER}/par", 401), (f"{ISSUER}/token", 401)]
)
def test_private_key_jwt_at_par_takes_only_the_issuer_as_audience(
    oauth: OAuthActions, pkj: RegisteredClient, audience: str, status: int
) -> None:
    """CA-07 (draft-ietf-oauth-rfc7523bis): aud is the issuer identifier at every endpoint,
    the PAR and token endpoint URLs included."""
    query, _ = oauth.authorize_params(pkj)
    form = query | {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(pkj, audience),
    }
    response = oauth.http.post("/par", data=form)
    assert response.status_code == status, response.json
    if status == 401:
        assert response.json is not None and response.json["error"] == "invalid_client"


def test_client_secret_post_works_at_par(oauth: OAuthActions, clients: ClientFactory) -> None:
    client = clients.create(
        redirect_uris=["https://post.test/cb"],
        token_endpoint_auth_method="client_secret_post",
        scope="openid photos.read",
    )
    response, _, _ = push_raw(oauth, client, scope="openid")
    assert response.status_code == 201, response.json
    assert "client_secret" not in row_params(oauth, response)


def row_params(oauth: OAuthActions, response: Any) -> dict[str, list[str]]:
    app = oauth.http.application
    return dict(row_of(app, response.json["request_uri"]).parameters)  # type: ignore[arg-type]


def test_the_pushed_parameters_are_stored_without_client_credentials(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, query, _ = push_raw(oauth, conf, resource=None)
    stored = row_params(oauth, response)
    assert stored == {key: [str(value)] for key, value in query.items()}


# -- §2.3: errors at /par --------------------------------------------------------------------
def wrong_secret(client: RegisteredClient) -> RegisteredClient:
    return RegisteredClient(client.client_id, "not-the-secret", client.metadata)


def test_wrong_client_secret_is_401_invalid_client_with_a_challenge(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _, _ = push_raw(oauth, wrong_secret(conf))
    assert_json_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_client_is_401_invalid_client(oauth: OAuthActions, conf: RegisteredClient) -> None:
    stranger = RegisteredClient("no-such-client", "secret", conf.metadata)
    response, _, _ = push_raw(oauth, stranger)
    assert_json_error(response, 401, "invalid_client")


def test_confidential_client_without_credentials_is_401(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    query, _ = oauth.authorize_params(conf)
    assert_json_error(oauth.http.post("/par", data=query), 401, "invalid_client")


def test_client_id_in_the_body_must_be_the_authenticated_client(
    oauth: OAuthActions, conf: RegisteredClient, pub: RegisteredClient
) -> None:
    """§2.1: the client_id parameter must match the authenticated client."""
    response, _, _ = push_raw(oauth, conf, client_id=pub.client_id)
    assert_json_error(response, 400, "invalid_request")
    assert "client_id" in response.json["error_description"]


def test_client_id_may_be_left_out_when_basic_authentication_names_the_client(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _, _ = push_raw(oauth, conf, client_id=None)
    assert response.status_code == 201
    assert row_of(app, response.json["request_uri"]).parameters["client_id"] == [conf.client_id]


def test_request_uri_cannot_be_pushed(oauth: OAuthActions, conf: RegisteredClient) -> None:
    """§2.1: request_uri MUST NOT be provided."""
    response, _, _ = push_raw(oauth, conf, request_uri=REQUEST_URI_PREFIX + "x")
    assert_json_error(response, 400, "invalid_request")
    assert "request_uri" in response.json["error_description"]


def test_a_request_object_is_answered_request_not_supported(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    """RFC 9101 request objects are not supported (OIDC Core §6: request_not_supported)."""
    response, _, _ = push_raw(oauth, conf, request="eyJhbGciOiJub25lIn0.e30.")
    assert_json_error(response, 400, "request_not_supported")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"redirect_uri": "https://evil.test/cb"}, "invalid_request"),
        ({"redirect_uri": None, "response_type": "code"}, None),  # one URI: default allowed
        ({"scope": "admin"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
    ],
    ids=[
        "no-pkce", "plain-pkce", "unregistered-redirect", "default-redirect", "bad-scope",
        "implicit", "no-response-type", "prompt-none-plus", "bad-max-age",
    ],
)  # fmt: skip
def test_the_request_is_validated_as_at_the_authorization_endpoint(
    oauth: OAuthActions, conf: RegisteredClient, params: dict[str, Any], error: str | None
) -> None:
    """§2.1: the same rules as /authorize, answered as JSON, never by redirect."""
    response, _, _ = push_raw(oauth, conf, **params)
    if error is None:
        assert response.status_code == 201
    else:
        assert_json_error(response, 400, error)


def test_an_authenticated_client_without_the_code_grant_is_refused(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    """A machine client has no redirect URI to send the user back to: refused, as JSON."""
    query, _ = oauth.authorize_params(conf_like(cc))
    response = oauth.post("/par", cc, **query)
    assert_json_error(response, 400, "invalid_request")


def conf_like(client: RegisteredClient) -> RegisteredClient:
    metadata = client.metadata | {"redirect_uris": ["https://app.test/cb"]}
    return RegisteredClient(client.client_id, client.client_secret, metadata)


def test_a_parameter_sent_twice_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    query, _ = oauth.authorize_params(conf)
    headers, _ = oauth.auth(conf)
    form = MultiDict(list(query.items()) + [("scope", "openid")])
    response = oauth.http.post("/par", data=form, headers=headers)
    assert_json_error(response, 400, "invalid_request")


def test_par_takes_only_form_encoded_posts(oauth: OAuthActions, conf: RegisteredClient) -> None:
    query, _ = oauth.authorize_params(conf)
    headers, _ = oauth.auth(conf)
    assert_json_error(oauth.http.post("/par", json=query, headers=headers), 400, "invalid_request")
    response = oauth.http.get("/par")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_an_oversized_push_is_413(oauth: OAuthActions, conf: RegisteredClient) -> None:
    response, _, _ = push_raw(oauth, conf, state="s" * 70_000)
    assert response.status_code == 413
    assert response.json["error"] == "request_too_large"


@pytest.mark.limits(OAUTH_LIMIT_PER_CLIENT="2 per minute")
def test_pushes_are_throttled_per_client_with_429(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    for _ in range(2):
        assert push_raw(oauth, conf)[0].status_code == 201
    response, _, _ = push_raw(oauth, conf)
    assert_json_error(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="2 per minute")
def test_failed_authentications_at_par_count_towards_the_lockout(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    for _ in range(2):
        assert push_raw(oauth, wrong_secret(conf))[0].status_code == 401
    assert push_raw(oauth, conf)[0].status_code == 429


@pytest.mark.limits(PAR_ENABLED=False)
def test_disabled_par_endpoint_is_a_json_404(oauth: OAuthActions, conf: RegisteredClient) -> None:
    response, _, _ = push_raw(oauth, conf)
    assert_json_error(response, 404, "not_found")


# -- §4: request_uri at the authorization endpoint ---------------------------------------------
def test_pushed_request_completes_the_code_flow(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf, scope="openid offline_access photos.read", nonce="n-par")
    result = flow_result(follow(oauth, conf, pushed), pushed)
    assert result.response.headers["Location"].startswith(conf.redirect_uri + "?")
    assert result.params["state"] == pushed.params["state"]
    assert result.params["iss"] == ISSUER
    tokens = oauth.exchange(conf, result)
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["scope"] == "openid offline_access photos.read"
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens.json)


def test_public_client_completes_the_flow_with_pkce(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, pub, scope="openid photos.read")
    result = flow_result(follow(oauth, pub, pushed), pushed)
    assert oauth.exchange(pub, result).status_code == 200
    wrong = flow_result(follow(oauth, pub, push(oauth, pub)), pushed)  # verifier of another
    assert oauth.exchange(pub, wrong).json["error"] == "invalid_grant"


def test_query_parameters_beside_request_uri_are_ignored(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """§4: the pushed parameters are the request; the query cannot widen or redirect it."""
    pushed = push(oauth, conf, scope="openid")
    extra = {
        "scope": "openid photos.write",
        "state": "attacker",
        "redirect_uri": "https://evil.test/cb",
        "response_type": "token",
        "prompt": "none",
    }
    result = flow_result(follow(oauth, conf, pushed, **extra), pushed)
    assert result.response.headers["Location"].startswith(conf.redirect_uri + "?")
    assert result.params["state"] == pushed.params["state"]
    assert oauth.exchange(conf, result).json["scope"] == "openid"


def test_the_consent_page_shows_the_pushed_scopes(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf, scope="openid photos.write")
    oauth.sign_in()
    page = oauth.http.get(pushed.path(conf.client_id, scope="openid photos.read"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="photos.write"' in html and 'value="photos.read"' not in html


def test_a_request_uri_yields_one_code_only(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """§4: one-time use; replaying the /authorize URL after the code shows the error page."""
    pushed = push(oauth, conf)
    flow_result(follow(oauth, conf, pushed), pushed)
    assert code_count(app) == 1
    assert row_of(app, pushed.request_uri).used_at is not None
    replay = oauth.http.get(pushed.path(conf.client_id))  # consent is remembered now
    assert_error_page(replay, "invalid_request_uri")
    assert code_count(app) == 1


def test_two_consents_on_one_request_uri_give_one_code(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """Two tabs showing the same consent page: the second Allow gets the error page."""
    pushed = push(oauth, conf)
    path = pushed.path(conf.client_id)
    oauth.sign_in()
    first_page, second_page = oauth.http.get(path), oauth.http.get(path)
    assert first_page.status_code == second_page.status_code == 200
    first = oauth.decide(first_page, path)
    assert first.status_code == 303 and "code=" in first.headers["Location"]
    assert_error_page(oauth.decide(second_page, path), "invalid_request_uri")
    assert code_count(app) == 1


def test_denying_consumes_the_request_uri_and_redirects_with_state_and_iss(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf)
    result = flow_result(follow(oauth, conf, pushed, decision="deny"), pushed)
    assert result.params == {
        "error": "access_denied",
        "state": pushed.params["state"],
        "iss": ISSUER,
    } | ({"error_description": result.params["error_description"]}
         if "error_description" in result.params else {})  # fmt: skip
    assert_error_page(oauth.http.get(pushed.path(conf.client_id)), "invalid_request_uri")


def test_prompt_none_error_goes_back_with_the_pushed_state_and_consumes(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    pushed = push(oauth, conf, prompt="none")
    response = oauth.http.get(pushed.path(conf.client_id))
    result = flow_result(response, pushed)
    assert result.params["error"] == "login_required"
    assert result.params["state"] == pushed.params["state"]
    assert result.params["iss"] == ISSUER
    assert row_of(app, pushed.request_uri).used_at is not None


def test_prompt_login_in_a_pushed_request_asks_to_sign_in_once(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """A sign-in after the request_uri's first presentation satisfies prompt=login and
    max_age; it must not send the user back to sign in forever."""
    oauth.sign_in()
    pushed = push(oauth, conf, prompt="login", max_age="0")
    path = pushed.path(conf.client_id)
    first = oauth.http.get(path)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login")
    oauth.sign_in()
    consent_page = oauth.http.get(path)
    assert consent_page.status_code == 200
    assert oauth.decide(consent_page, path).status_code == 303


@pytest.mark.parametrize(
    "request_uri",
    [REQUEST_URI_PREFIX + "unknown", "https://client.test/request.jwt", "", "x" * 300],
    ids=["unknown", "not-a-urn", "empty", "long"],
)
def test_an_unknown_request_uri_shows_the_error_page(
    oauth: OAuthActions, conf: RegisteredClient, request_uri: str
) -> None:
    response = oauth.http.get(Pushed(request_uri, "", {}).path(conf.client_id))
    assert_error_page(response, "invalid_request_uri")


def test_a_request_uri_presented_after_expires_in_is_refused(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf)
    set_row(app, pushed.request_uri, expires_at=utcnow() - timedelta(seconds=1))
    assert_error_page(oauth.http.get(pushed.path(conf.client_id)), "invalid_request_uri")


def test_once_presented_a_request_uri_outlives_expires_in_for_sign_in_and_consent(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf)
    path = pushed.path(conf.client_id)
    assert oauth.http.get(path).status_code == 302  # to sign-in: first presentation
    assert row_of(app, pushed.request_uri).first_seen_at is not None
    set_row(app, pushed.request_uri, expires_at=utcnow() - timedelta(seconds=30))
    assert flow_result(follow(oauth, conf, pushed), pushed).params.get("code")


def test_the_interaction_window_after_first_presentation_is_ten_minutes(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf)
    assert oauth.http.get(pushed.path(conf.client_id)).status_code == 302
    set_row(app, pushed.request_uri, first_seen_at=utcnow() - timedelta(minutes=10, seconds=1))
    oauth.sign_in()
    assert_error_page(oauth.http.get(pushed.path(conf.client_id)), "invalid_request_uri")


def test_a_request_uri_is_bound_to_the_client_that_pushed_it(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, pub: RegisteredClient, bob: Any
) -> None:
    pushed = push(oauth, conf)
    assert_error_page(oauth.http.get(pushed.path(pub.client_id)), "invalid_request_uri")
    no_client = "/authorize?request_uri=" + pushed.request_uri
    assert_error_page(oauth.http.get(no_client), "invalid_request")
    assert row_of(app, pushed.request_uri).first_seen_at is None  # still the client's to use
    assert flow_result(follow(oauth, conf, pushed), pushed).params.get("code")


@pytest.mark.limits(PAR_ENABLED=False)
def test_request_uri_at_authorize_is_refused_when_par_is_disabled(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response = oauth.http.get(Pushed(REQUEST_URI_PREFIX + "x", "", {}).path(conf.client_id))
    assert_error_page(response, "request_uri_not_supported")


def test_a_deleted_client_takes_its_pushed_requests_with_it(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    pushed = push(oauth, conf)
    result = app.test_cli_runner().invoke(args=["clients", "delete", conf.client_id])
    assert result.exit_code == 0, result.output
    assert_error_page(oauth.http.get(pushed.path(conf.client_id)), "invalid_request_uri")


def test_resource_indicators_may_repeat_and_are_kept_in_order(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    """RFC 8707 §2: several resource parameters travel through PAR unchanged, and an unknown
    one is refused when pushed, as at /authorize."""
    resources = ["https://api.test/one", "https://api.test/two"]
    unknown, _, _ = push_raw(oauth, conf, resource=resources)
    assert unknown.status_code == 400
    assert unknown.json["error"] == "invalid_target"
    reconfigure(app, OAUTH_EXTRA_RESOURCES=resources)
    response, _, _ = push_raw(oauth, conf, resource=resources)
    assert response.status_code == 201, response.json
    assert row_params(oauth, response)["resource"] == resources

"""The authorization endpoint as a person and a client meet it: state, iss, nonce, prompt,
max_age, and the consent page.

Covers docs/security.md group C (ST-01..ST-04) and the consent-page parts of UI-02/UI-04:
RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207 §2, §3; RFC 8414 §3.3; RFC 9700 §4.4, §4.11.2;
OpenID Connect Core §3.1.2.1 (prompt, max_age, nonce), §3.1.2.6, §2 (auth_time, nonce).
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import AuthorizationCode, Consent
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.lanes import Clock
from tests.oauth.helpers import (
    CONSENT_TICKET,
    ClientFactory,
    OAuthActions,
    RegisteredClient,
    query_of,
)

XSS_NAME = "<img src=x onerror=alert(1)>"
STATES = {
    "percent-plus-emoji-literal": "a%20b+%F0%9F%98%80",
    "space-plus-emoji": "a b+\U0001f600",
    "reserved-chars": "x&y=z#w?/;,",
    "quotes-and-angles": "\"'<>",
    "long": "s" * 512,
}
STATE_VALUES = list(STATES.values())
STATE_IDS = list(STATES)


# -- helpers ----------------------------------------------------------------------------
def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def discovery_issuer(oauth: OAuthActions) -> str:
    response = oauth.http.get("/.well-known/openid-configuration")
    assert response.json is not None
    return str(response.json["issuer"])


def authorize_path(oauth: OAuthActions, client: RegisteredClient, **params: Any) -> str:
    query, _ = oauth.authorize_params(client, **params)
    return "/authorize?" + urlencode(query)


def is_login_redirect(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def is_consent_page(response: TestResponse) -> bool:
    return response.status_code == 200 and bool(
        CONSENT_TICKET.search(response.get_data(as_text=True))
    )


def client_redirect(response: TestResponse, client: RegisteredClient) -> dict[str, str]:
    """The parameters of a redirect back to the client's registered URI."""
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uri + "?"), location
    return query_of(location)


def assert_redirect_error(response: TestResponse, client: RegisteredClient, error: str,
                          state: str | None = None) -> dict[str, str]:  # fmt: skip
    params = client_redirect(response, client)
    assert params["error"] == error
    assert "code" not in params
    if state is not None:
        assert params["state"] == state
    return params


def sign_in_at(oauth: OAuthActions, login_location: str) -> str:
    """Sign bob in on the page the AS redirected to; return where it sends him next."""
    page = oauth.http.get(login_location)
    assert page.status_code == 200
    form = {
        "username": "bob",
        "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_token_from(page.get_data(as_text=True)),
    }
    response = oauth.http.post(login_location, data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return str(response.headers["Location"])


def consent_form(page: TestResponse) -> dict[str, Any]:
    html = page.get_data(as_text=True)
    match = CONSENT_TICKET.search(html)
    assert match, "not a consent page"
    return {
        "csrf_token": csrf_token_from(html),
        "consent_ticket": match.group(1),
        "decision": "allow",
        "granted_scope": re.findall(r'name="granted_scope" value="([^"]+)"', html),
    }


def redeem(oauth: OAuthActions, client: RegisteredClient, code: str, verifier: str) -> Any:
    response = oauth.token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


@pytest.fixture
def xss(clients: ClientFactory) -> RegisteredClient:
    return clients.create(
        client_name=XSS_NAME,
        redirect_uris=["https://xss.test/cb"],
        grant_types=["authorization_code"],
        scope="openid profile email photos.read photos.write",
    )


# -- ST-01: state echoed byte-exact ------------------------------------------------------
@pytest.mark.parametrize("state", STATE_VALUES, ids=STATE_IDS)
def test_state_is_echoed_byte_exact_with_the_code(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, state: str
) -> None:
    after_consent = oauth.approve(conf, state=state)  # consent page POST, 303
    assert after_consent.response.status_code == 303
    assert after_consent.params["state"] == state
    assert after_consent.params["code"]
    remembered, _ = oauth.authorize(conf, state=state)  # consent remembered, 302
    assert client_redirect(remembered, conf)["state"] == state


@pytest.mark.parametrize("state", STATE_VALUES, ids=STATE_IDS)
def test_state_is_echoed_byte_exact_on_error_redirects(
    oauth: OAuthActions, conf: RegisteredClient, state: str
) -> None:
    login_required, _ = oauth.authorize(conf, state=state, prompt="none")
    assert_redirect_error(login_required, conf, "login_required", state=state)
    bad_pkce, _ = oauth.authorize(conf, state=state, code_challenge_method="plain")
    assert_redirect_error(bad_pkce, conf, "invalid_request", state=state)


ERROR_SCENARIOS: dict[str, tuple[str, dict[str, Any], str]] = {
    # name: (bob's session: signed-out / signed-in / consented, request parameters, error)
    "login_required": ("signed-out", {"prompt": "none"}, "login_required"),
    "consent_required": ("signed-in", {"prompt": "none"}, "consent_required"),
    "invalid_scope": ("signed-in", {"scope": "openid no-such-scope"}, "invalid_scope"),
    "invalid_request-pkce": ("signed-in", {"code_challenge": None}, "invalid_request"),
    "invalid_request-max_age": ("consented", {"max_age": "abc"}, "invalid_request"),
    "invalid_request-prompt": ("consented", {"prompt": "none login"}, "invalid_request"),
    "unsupported_response_type": ("signed-in", {"response_type": "token"},
                                  "unsupported_response_type"),
}  # fmt: skip


@pytest.mark.parametrize("scenario", ERROR_SCENARIOS.values(), ids=ERROR_SCENARIOS.keys())
def test_state_is_echoed_on_every_error_redirect(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, scenario: tuple[str, Any, str]
) -> None:
    session, params, error = scenario
    if session == "consented":
        oauth.approve(conf)
    elif session == "signed-in":
        oauth.sign_in()
    state = "a b+\U0001f600"
    response, _ = oauth.authorize(conf, state=state, **params)
    assert_redirect_error(response, conf, error, state=state)


@pytest.mark.parametrize("state", STATE_VALUES, ids=STATE_IDS)
def test_deny_redirects_with_access_denied_state_and_iss_and_no_code(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask, state: str
) -> None:
    oauth.sign_in()
    path = authorize_path(oauth, conf, state=state)
    page = oauth.http.get(path)
    response = oauth.decide(page, path, decision="deny")
    assert response.status_code == 303
    params = assert_redirect_error(response, conf, "access_denied", state=state)
    assert params["iss"] == discovery_issuer(oauth)
    assert count_rows(app, AuthorizationCode) == 0
    assert count_rows(app, Consent) == 0


def test_deny_is_not_remembered_as_consent(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    path = authorize_path(oauth, conf)
    oauth.decide(oauth.http.get(path), path, decision="deny")
    silent, _ = oauth.authorize(conf, prompt="none")
    assert_redirect_error(silent, conf, "consent_required")
    assert is_consent_page(oauth.authorize(conf)[0])


def test_the_consent_page_makes_no_request_to_the_clients_logo_host(
    oauth: OAuthActions, clients: ClientFactory, bob: Any
) -> None:
    """The logo_uri is another site: the CSP (img-src 'self') blocks it, and loading it would
    tell that site who is signing in. It stays in the metadata; the page names the client."""
    logo = "https://cdn.logo-host.test/logo.png"
    client = clients.create(
        client_name="Logo app", redirect_uris=["https://logo-app.test/cb"], logo_uri=logo
    )
    assert client.metadata["logo_uri"] == logo
    oauth.sign_in()
    page, _ = oauth.authorize(client)
    html = page.get_data(as_text=True)
    assert is_consent_page(page)
    assert "Logo app" in html
    assert "logo-host.test" not in html
    assert "<img" not in html


# -- ST-02: iss on every authorization response; one issuer everywhere --------------------
def test_discovery_documents_agree_on_the_issuer_and_announce_the_iss_parameter(
    oauth: OAuthActions, app: Flask
) -> None:
    openid = oauth.http.get("/.well-known/openid-configuration").json
    oauth_doc = oauth.http.get("/.well-known/oauth-authorization-server").json
    assert openid is not None and oauth_doc is not None
    assert openid["issuer"] == oauth_doc["issuer"] == app.config["OAUTH_ISSUER"]
    assert openid["authorization_endpoint"] == oauth_doc["authorization_endpoint"]
    assert openid["authorization_endpoint"] == openid["issuer"] + "/authorize"
    assert openid["authorization_response_iss_parameter_supported"] is True
    assert oauth_doc["authorization_response_iss_parameter_supported"] is True


def _code_after_consent(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.approve(conf).response


def _code_remembered(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    oauth.approve(conf)
    return oauth.authorize(conf)[0]


def _code_prompt_none(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    oauth.approve(conf)
    return oauth.authorize(conf, prompt="none")[0]


def _access_denied(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    oauth.sign_in()
    path = authorize_path(oauth, conf)
    return oauth.decide(oauth.http.get(path), path, decision="deny")


def _login_required(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, prompt="none")[0]


def _consent_required(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    oauth.sign_in()
    return oauth.authorize(conf, prompt="none")[0]


def _invalid_request(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, code_challenge=None)[0]


def _invalid_scope(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, scope="openid no-such-scope")[0]


def _unsupported_response_type(oauth: OAuthActions, conf: RegisteredClient) -> TestResponse:
    return oauth.authorize(conf, response_type="token")[0]


ISS_SCENARIOS = {
    "code-after-consent": _code_after_consent,
    "code-remembered-consent": _code_remembered,
    "code-prompt-none": _code_prompt_none,
    "access_denied": _access_denied,
    "login_required": _login_required,
    "consent_required": _consent_required,
    "invalid_request": _invalid_request,
    "invalid_scope": _invalid_scope,
    "unsupported_response_type": _unsupported_response_type,
}


@pytest.mark.parametrize("scenario", ISS_SCENARIOS.values(), ids=ISS_SCENARIOS.keys())
def test_every_authorization_response_carries_the_discovery_issuer(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, scenario: Any
) -> None:
    response = scenario(oauth, conf)
    params = client_redirect(response, conf)
    assert params["iss"] == discovery_issuer(oauth)
    assert len(parse_qs(urlsplit(response.headers["Location"]).query)["iss"]) == 1


def test_id_token_and_access_token_name_the_discovery_issuer(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf)
    body = redeem(oauth, conf, flow.code, flow.verifier)
    issuer = discovery_issuer(oauth)
    assert flow.params["iss"] == issuer
    assert jwt_claims(body["id_token"])["iss"] == issuer
    assert jwt_claims(body["access_token"])["iss"] == issuer
    introspection = oauth.introspect(conf, body["access_token"]).json
    assert introspection is not None and introspection["iss"] == issuer


# -- ST-03: nonce ------------------------------------------------------------------------
def test_nonce_is_copied_into_the_id_token(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, nonce="n-123")
    assert jwt_claims(body["id_token"])["nonce"] == "n-123"


def test_code_flow_without_nonce_issues_an_id_token_without_nonce(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    body = oauth.tokens_for(conf, nonce=None)
    claims = jwt_claims(body["id_token"])
    assert "nonce" not in claims
    assert claims["aud"] in (conf.client_id, [conf.client_id])


# -- ST-04 and OIDC prompt / max_age ------------------------------------------------------
def test_prompt_none_without_session_redirects_login_required(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    response, _ = oauth.authorize(conf, prompt="none", state="pn-1")
    params = assert_redirect_error(response, conf, "login_required", state="pn-1")
    assert params["iss"] == discovery_issuer(oauth)
    assert count_rows(app, AuthorizationCode) == 0


def test_prompt_none_signed_in_without_consent_redirects_consent_required(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    oauth.sign_in()
    response, _ = oauth.authorize(conf, prompt="none")
    params = assert_redirect_error(response, conf, "consent_required")
    assert params["iss"] == discovery_issuer(oauth)
    assert count_rows(app, AuthorizationCode) == 0


def test_prompt_none_asking_more_than_was_consented_redirects_consent_required(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf, scope="openid profile")
    response, _ = oauth.authorize(conf, prompt="none", scope="openid profile photos.write")
    assert_redirect_error(response, conf, "consent_required")


def test_prompt_none_with_session_and_consent_answers_with_a_code(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf)
    response, verifier = oauth.authorize(conf, prompt="none", state="pn-3")
    params = client_redirect(response, conf)
    assert params["state"] == "pn-3"
    redeem(oauth, conf, params["code"], verifier)


@pytest.mark.parametrize("prompt", ["none login", "none consent", "consent none"])
def test_prompt_none_combined_with_another_value_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, prompt: str
) -> None:
    oauth.approve(conf)
    response, _ = oauth.authorize(conf, prompt=prompt, state="pn-4")
    assert_redirect_error(response, conf, "invalid_request", state="pn-4")


def test_prompt_login_forces_the_sign_in_page_even_when_signed_in(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    oauth.approve(conf)
    clock.advance(1.1)
    response, verifier = oauth.authorize(conf, prompt="login", state="pl-1")
    assert is_login_redirect(response), response.headers.get("Location")
    signed_in_after = int(time.time())
    next_path = sign_in_at(oauth, response.headers["Location"])
    assert next_path.startswith("/authorize?")
    assert "prompt=login" not in next_path
    finished = oauth.http.get(next_path)
    params = client_redirect(finished, conf)
    assert params["state"] == "pl-1"
    body = redeem(oauth, conf, params["code"], verifier)
    assert jwt_claims(body["id_token"])["auth_time"] >= signed_in_after


def test_prompt_consent_shows_the_consent_page_even_when_consent_is_remembered(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf)
    assert client_redirect(oauth.authorize(conf)[0], conf)["code"]
    response, _ = oauth.authorize(conf, prompt="consent")
    assert is_consent_page(response)


def test_max_age_exceeded_forces_the_sign_in_page(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    oauth.approve(conf)
    clock.advance(1.1)
    fresh_enough, _ = oauth.authorize(conf, max_age="3600")
    assert client_redirect(fresh_enough, conf)["code"]
    too_old, _ = oauth.authorize(conf, max_age="0")
    assert is_login_redirect(too_old), too_old.headers.get("Location")


def test_max_age_sign_in_then_completes_with_a_fresh_auth_time(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    oauth.approve(conf)
    clock.advance(1.1)
    response, verifier = oauth.authorize(conf, max_age="1", state="ma-1")
    assert is_login_redirect(response)
    signed_in_after = int(time.time())
    finished = oauth.http.get(sign_in_at(oauth, response.headers["Location"]))
    params = client_redirect(finished, conf)
    body = redeem(oauth, conf, params["code"], verifier)
    assert jwt_claims(body["id_token"])["auth_time"] >= signed_in_after


def test_max_age_zero_completes_after_the_fresh_sign_in(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """OIDC Core §3.1.2.1: max_age=0 is equivalent to prompt=login, so one fresh sign-in
    satisfies it; it must not send the user back to the sign-in page forever."""
    oauth.approve(conf)
    response, verifier = oauth.authorize(conf, max_age="0", state="ma-0")
    assert is_login_redirect(response)
    finished = oauth.http.get(sign_in_at(oauth, response.headers["Location"]))
    params = client_redirect(finished, conf)
    assert params["state"] == "ma-0"
    body = redeem(oauth, conf, params["code"], verifier)
    assert "auth_time" in jwt_claims(body["id_token"])


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "99999999999"])
def test_malformed_max_age_is_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, max_age: str
) -> None:
    oauth.approve(conf)
    response, _ = oauth.authorize(conf, max_age=max_age)
    assert_redirect_error(response, conf, "invalid_request")


def test_remembered_consent_skips_the_consent_page(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf, scope="openid profile photos.read")
    response, _ = oauth.authorize(conf, scope="openid photos.read")
    assert response.status_code == 302
    assert client_redirect(response, conf)["code"]


def test_consent_is_asked_again_for_a_scope_not_yet_granted(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf, scope="openid profile")
    response, _ = oauth.authorize(conf, scope="openid profile photos.write")
    assert is_consent_page(response)


def test_an_unticked_scope_is_asked_again_next_time(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf, scope="openid profile email", granted=["profile"])
    response, _ = oauth.authorize(conf, scope="openid profile email")
    assert is_consent_page(response)


# -- consent page (UI-04) ----------------------------------------------------------------
def test_consent_page_shows_the_client_name_escaped(
    oauth: OAuthActions, xss: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    response, _ = oauth.authorize(xss)
    assert is_consent_page(response)
    html = response.get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html


def test_consent_page_lists_the_requested_scopes_and_the_redirect_host(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    response, _ = oauth.authorize(conf, scope="openid email photos.read")
    html = response.get_data(as_text=True)
    assert "PhotoPrint" in html
    assert "app.test" in html
    for name, words in [
        ("openid", "Confirm that you are you"),
        ("email", "See your email address"),
        ("photos.read", "See your photos"),
    ]:
        assert f">{name}<" in html
        assert words in html
    for absent in ("photos.write", "offline_access", "See your name"):
        assert absent not in html
    ticked = re.findall(r'name="granted_scope" value="([^"]+)"', html)
    assert sorted(ticked) == ["email", "photos.read"]


@pytest.mark.parametrize(
    ("redirect_uri", "shown", "hidden"),
    [
        ("https://bücher.test/cb", "xn--bcher-kva.test", "bücher"),
        ("https://\u0430pple.test:8443/cb", "xn--pple-43d.test:8443", "\u0430pple"),  # Cyrillic a
        ("https://PhotoPrint.test/cb", "photoprint.test", '"redirect-host">PhotoPrint'),
    ],
)
def test_consent_page_shows_the_redirect_host_in_punycode(
    oauth: OAuthActions, clients: ClientFactory, bob: Any, redirect_uri: str, shown: str,
    hidden: str,
) -> None:  # fmt: skip
    """Pen-test case 8: a look-alike host is shown as the browser will resolve it."""
    lookalike = clients.create(
        client_name="Look-alike", redirect_uris=[redirect_uri], scope="openid"
    )
    oauth.sign_in()
    response, _ = oauth.authorize(lookalike, scope="openid")
    assert is_consent_page(response)
    html = response.get_data(as_text=True)
    assert f'<strong class="redirect-host">{shown}</strong>' in html
    assert hidden not in html


def test_unticking_an_optional_scope_narrows_the_token(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf, scope="openid profile email photos.read", granted=["profile"])
    body = redeem(oauth, conf, flow.code, flow.verifier)
    assert body["scope"] == "openid profile"
    assert jwt_claims(body["access_token"])["scope"] == "openid profile"
    info = oauth.userinfo(body["access_token"]).json
    assert info is not None and "email" not in info and info["name"] == "bob"


def test_ticking_a_scope_that_was_not_requested_grants_nothing_more(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(
        conf, scope="openid photos.read", granted=["photos.read", "photos.write", "email"]
    )
    body = redeem(oauth, conf, flow.code, flow.verifier)
    assert body["scope"] == "openid photos.read"


def test_allowing_with_every_optional_scope_unticked_is_a_denial(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """Regression: an empty approval used to become every scope the client registered."""
    flow = oauth.approve(conf, scope="photos.read", granted=[])
    assert flow.params["error"] == "access_denied"
    assert "code" not in flow.params


# -- consent POST binding (UI-02 parts) -----------------------------------------------------
def test_consent_ticket_from_another_authorization_request_is_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    oauth.sign_in()
    path_a = authorize_path(oauth, conf, state="request-a", scope="openid")
    path_b = authorize_path(oauth, conf, state="request-b", scope="openid photos.write")
    form_a = consent_form(oauth.http.get(path_a))
    form_b = consent_form(oauth.http.get(path_b))
    assert form_a["consent_ticket"] != form_b["consent_ticket"]
    forged = form_b | {"consent_ticket": form_a["consent_ticket"]}
    response = oauth.http.post(path_b, data=forged)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_rows(app, AuthorizationCode) == 0
    assert count_rows(app, Consent) == 0


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
def test_consent_post_without_the_csrf_token_is_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask, csrf: str | None
) -> None:
    oauth.sign_in()
    path = authorize_path(oauth, conf)
    form = consent_form(oauth.http.get(path))
    if csrf is None:
        del form["csrf_token"]
    else:
        form["csrf_token"] = csrf
    response = oauth.http.post(path, data=form)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_rows(app, AuthorizationCode) == 0
    assert count_rows(app, Consent) == 0


def test_consent_post_without_a_ticket_is_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    oauth.sign_in()
    path = authorize_path(oauth, conf)
    form = consent_form(oauth.http.get(path))
    del form["consent_ticket"]
    response = oauth.http.post(path, data=form)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_rows(app, AuthorizationCode) == 0


# -- request objects (OIDC Core §6, RFC 9101) are not supported ---------------------------
REQUEST_OBJECT = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."


def test_request_object_is_answered_request_not_supported_with_state_and_iss(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Flask
) -> None:
    """OIDC Core §6.1: unsupported request objects are refused, never ignored."""
    oauth.approve(conf)  # signed in, consent remembered: it would otherwise answer a code
    response, _ = oauth.authorize(conf, request=REQUEST_OBJECT, state="jar-1")
    params = assert_redirect_error(response, conf, "request_not_supported", state="jar-1")
    assert params["iss"] == discovery_issuer(oauth)
    assert count_rows(app, AuthorizationCode) == 1  # the approval's only


def test_request_object_with_an_unregistered_redirect_uri_is_shown_not_redirected(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _ = oauth.authorize(conf, request=REQUEST_OBJECT, redirect_uri="https://evil.test/cb")
    assert response.status_code == 400 and "Location" not in response.headers


def test_discovery_says_request_objects_are_not_supported(oauth: OAuthActions) -> None:
    document = oauth.http.get("/.well-known/openid-configuration").json
    assert document is not None
    assert document["request_parameter_supported"] is False
    assert document["request_uri_parameter_supported"] is False

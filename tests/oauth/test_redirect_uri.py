"""Redirect URI checks at the authorization and token endpoints.

Covers docs/security.md group A (RU-01..RU-09): RFC 6749 §3.1.2, §3.1.2.3, §4.1.2.1, §4.1.3;
RFC 9700 §2.1, §4.1.3; RFC 8252 §7.3 (loopback ports); OAuth 2.1 §4.1.1, §4.1.2.1.
An "AS error page" is a 400 HTML page with no Location header: the person is told, the
client is never redirected to, and no code is issued.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import AuthorizationCode, Client
from tests.oauth.helpers import (
    ClientFactory,
    OAuthActions,
    RegisteredClient,
    query_of,
)

ALL_SCOPES = "openid profile email offline_access photos.read photos.write"
EVIL = "https://evil.test/cb"


# -- helpers ----------------------------------------------------------------------------
def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def assert_error_page(response: TestResponse, error: str | None = "invalid_request") -> None:
    """docs/security.md "AS error page": 400 HTML, no Location, nothing internal leaked."""
    body = response.get_data(as_text=True)
    assert response.status_code == 400, body[:300]
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert "Traceback" not in body
    if error is not None:
        assert error in body


def assert_redirect_error(
    response: TestResponse, redirect_uri: str, error: str, state: str | None = None
) -> dict[str, str]:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.split("?")[0] == redirect_uri.split("?")[0]
    params = query_of(location)
    assert params["error"] == error
    assert "code" not in params
    if state is not None:
        assert params["state"] == state
    return params


@pytest.fixture
def two(clients: ClientFactory) -> RegisteredClient:
    """A confidential client with two registered redirect URIs."""
    return clients.create(
        client_name="Two doors",
        redirect_uris=["https://two.test/a", "https://two.test/b"],
        grant_types=["authorization_code", "refresh_token"],
        scope=ALL_SCOPES,
    )


@pytest.fixture
def with_query(clients: ClientFactory) -> RegisteredClient:
    """A client whose registered redirect URI carries a query."""
    return clients.create(
        client_name="Query app",
        redirect_uris=["https://q.test/cb?a=1"],
        grant_types=["authorization_code"],
        scope=ALL_SCOPES,
    )


@pytest.fixture
def consented(oauth: OAuthActions, conf: RegisteredClient, bob: Any) -> OAuthActions:
    """bob is signed in and has already allowed ``conf``: a valid request is answered at once."""
    oauth.approve(conf)
    return oauth


# -- RU-01, RU-02, RU-04: exact match; never redirect elsewhere -------------------------
@pytest.mark.parametrize(
    "redirect_uri",
    [
        EVIL,
        "https://app.test/CB",
        "https://app.test/cb/",
        "HTTPS://APP.test/cb",
        "https://app.test/%63b",
        "https://app.test%2Fcb",
        "https%3A%2F%2Fapp.test%2Fcb",
        "https://app.test/cb/../cb",
        "https://app.test/./cb",
        "https://app.test//cb",
        "https://app.test/cb;x",
        "https://app.test:443/cb",
        "https://app.test./cb",
        "https://app.test/cb?",
        "https://app.test/cb#",
        "https://app.test/cb#x",
        "https://app.test/cb%20",
        "https://app.test/cb%00",
        "http://app.test/cb",
        "/cb",
    ],
)
def test_redirect_uri_not_registered_byte_for_byte_gets_error_page(
    consented: OAuthActions, conf: RegisteredClient, app: Flask, redirect_uri: str
) -> None:
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(conf, redirect_uri=redirect_uri)
    assert_error_page(response)
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://app.test@evil.test/cb",
        "https://app.test:443@evil.test/cb",
        "https://app.test.evil.test/cb",
        "https://evil.test/app.test/cb",
        "https://evil.test\\@app.test/cb",
        "https://evil.test#@app.test/cb",
        "https://evil.test?@app.test/cb",
        "https://user@app.test/cb",
        "https://app.test/cb@evil.test",
    ],
)
def test_look_alike_and_userinfo_hosts_get_error_page(
    consented: OAuthActions, conf: RegisteredClient, app: Flask, redirect_uri: str
) -> None:
    before = count_rows(app, AuthorizationCode)
    response, _ = consented.authorize(conf, redirect_uri=redirect_uri)
    assert_error_page(response)
    assert count_rows(app, AuthorizationCode) == before


def test_registered_redirect_uri_receives_the_code(
    consented: OAuthActions, conf: RegisteredClient
) -> None:
    response, _ = consented.authorize(conf)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://app.test/cb?")
    assert query_of(location)["code"]


# -- RU-03: query added or changed --------------------------------------------------------
def test_query_added_to_registered_redirect_uri_gets_error_page(
    consented: OAuthActions, conf: RegisteredClient
) -> None:
    response, _ = consented.authorize(conf, redirect_uri="https://app.test/cb?x=1")
    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://q.test/cb?a=2",
        "https://q.test/cb?a=1&b=2",
        "https://q.test/cb?b=2&a=1",
        "https://q.test/cb?a=1&a=1",
        "https://q.test/cb?A=1",
        "https://q.test/cb?a=%31",
        "https://q.test/cb",
        "https://q.test/cb?",
    ],
)
def test_query_changed_from_registered_redirect_uri_gets_error_page(
    oauth: OAuthActions, with_query: RegisteredClient, bob: Any, app: Flask, redirect_uri: str
) -> None:
    oauth.approve(with_query)
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(with_query, redirect_uri=redirect_uri)
    assert_error_page(response)
    assert count_rows(app, AuthorizationCode) == before


def test_registered_query_is_kept_and_code_is_added(
    oauth: OAuthActions, with_query: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(with_query)
    location = flow.response.headers["Location"]
    assert location.startswith("https://q.test/cb?")
    assert flow.params["a"] == "1"
    response = oauth.exchange(with_query, flow)
    assert response.status_code == 200, response.get_data(as_text=True)


# -- RU-05: errors found before client/redirect validation never redirect -----------------
@pytest.mark.parametrize(
    "params",
    [
        {"response_type": "bogus"},
        {"response_type": "token"},
        {"response_type": None},
        {"client_id": "no-such-client"},
        {"client_id": None},
        {"scope": "openid bogus"},
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"prompt": "none"},
        {"max_age": "not-a-number"},
    ],
    ids=lambda params: ",".join(f"{k}={v}" for k, v in params.items())[:40],
)
def test_early_errors_with_attacker_redirect_uri_never_redirect(
    consented: OAuthActions,
    conf: RegisteredClient,
    app: Flask,
    params: dict[str, Any],
) -> None:
    """Signed in with consent remembered: a valid request would be answered at once."""
    oauth = consented
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(conf, **({"redirect_uri": EVIL} | params))
    assert_error_page(response, error=None)
    assert "evil.test" not in response.headers.get("Location", "")
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"client_id": "no-such-client"}, "invalid_client"),
        ({"client_id": None}, "invalid_client"),
    ],
)
def test_errors_before_the_client_is_known_show_error_page_even_with_registered_uri(
    oauth: OAuthActions, conf: RegisteredClient, params: dict[str, Any], error: str
) -> None:
    response, _ = oauth.authorize(conf, **params)
    assert_error_page(response, error=error)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"scope": "openid bogus"}, "invalid_scope"),
        ({"response_type": "bogus"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
    ],
)
def test_errors_with_registered_redirect_uri_go_back_to_the_client(
    oauth: OAuthActions, conf: RegisteredClient, params: dict[str, Any], error: str
) -> None:
    response, _ = oauth.authorize(conf, state="s-1", **params)
    result = assert_redirect_error(response, conf.redirect_uri, error, state="s-1")
    assert result["iss"] == oauth.issuer


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("redirect_uri", EVIL),
        ("redirect_uri", "https://app.test/cb"),
        ("client_id", "no-such-client"),
        ("response_type", "code"),
        ("state", "second"),
        ("scope", "openid photos.write"),
        ("code_challenge", "a" * 43),
    ],
)
def test_repeated_authorization_parameters_never_issue_a_code(
    consented: OAuthActions, conf: RegisteredClient, app: Flask, name: str, value: str
) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be sent more than once; a repeat is refused."""
    query, _ = consented.authorize_params(conf)
    items = [*query.items(), (name, value)]
    before = count_rows(app, AuthorizationCode)
    response = consented.http.get("/authorize?" + urlencode(items))
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert name not in ("redirect_uri", "client_id")
        params = query_of(response.headers["Location"])
        assert response.headers["Location"].startswith(conf.redirect_uri + "?")
        assert params["error"] in ("invalid_request", "unsupported_response_type")
        assert "code" not in params
    else:
        assert_error_page(response, error=None)
    assert count_rows(app, AuthorizationCode) == before


# -- RU-06: redirect_uri required when more than one is registered ------------------------
def test_redirect_uri_omitted_with_two_registered_gets_error_page(
    oauth: OAuthActions, two: RegisteredClient, bob: Any, app: Flask
) -> None:
    oauth.approve(two)
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(two, redirect_uri=None)
    assert_error_page(response)
    assert count_rows(app, AuthorizationCode) == before


@pytest.mark.parametrize("redirect_uri", ["https://two.test/a", "https://two.test/b"])
def test_each_of_several_registered_redirect_uris_can_be_used(
    oauth: OAuthActions, two: RegisteredClient, bob: Any, redirect_uri: str
) -> None:
    flow = oauth.approve(two, redirect_uri=redirect_uri)
    assert flow.response.headers["Location"].startswith(redirect_uri + "?")
    response = oauth.exchange(two, flow, redirect_uri=redirect_uri)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_redirect_uri_may_be_omitted_when_only_one_is_registered(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    flow = oauth.approve(conf, redirect_uri=None)
    assert flow.response.headers["Location"].startswith(conf.redirect_uri + "?")
    # RFC 6749 §4.1.3: redirect_uri at the token endpoint only if it was sent to /authorize
    response = oauth.exchange(conf, flow, redirect_uri=None)
    assert response.status_code == 200, response.get_data(as_text=True)


# -- RU-07: registration refuses dangerous redirect URIs ----------------------------------
def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://a.test/cb#x",
        "https://a.test/cb#",
        "https://*.a.test/cb",
        "https://a.test/*",
        "javascript:alert(1)",
        "javascript://a.test/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://a.test/cb",
        "http://127.0.0.1.evil.test/cb",
        "https://user@a.test/cb",
        "https://a.test/c b",
        "ftp://a.test/cb",
        "file:///etc/passwd",
        "/relative/cb",
        "a.test/cb",
        "https:///cb",
    ],
)
def test_registration_refuses_unsafe_redirect_uri_and_stores_nothing(
    app: Flask, redirect_uri: str
) -> None:
    code, out = invoke(app, "clients", "create", "--name", "Bad", "--redirect-uri", redirect_uri)
    assert code != 0, out
    assert "invalid_redirect_uri" in out
    assert "Traceback" not in out
    assert count_rows(app, Client) == 0


def test_registration_refuses_unsafe_uri_among_good_ones(app: Flask) -> None:
    code, out = invoke(
        app, "clients", "create", "--name", "Mixed",
        "--redirect-uri", "https://a.test/cb", "--redirect-uri", "javascript:alert(1)",
    )  # fmt: skip
    assert code != 0, out
    assert count_rows(app, Client) == 0


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://a.test/cb", "https://a.test/cb?tenant=1", "http://127.0.0.1/cb", "http://[::1]/cb"],
)
def test_registration_accepts_https_and_loopback_redirect_uris(
    app: Flask, redirect_uri: str
) -> None:
    code, out = invoke(app, "clients", "create", "--name", "Good", "--redirect-uri", redirect_uri)
    assert code == 0, out
    assert count_rows(app, Client) == 1


# -- RU-08: loopback redirect URIs may vary only the port ---------------------------------
@pytest.mark.parametrize(
    "redirect_uri", ["http://127.0.0.1/cb", "http://127.0.0.1:53111/cb", "http://127.0.0.1:8/cb"]
)
def test_loopback_redirect_uri_may_use_any_port(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any, redirect_uri: str
) -> None:
    flow = oauth.approve(pub, redirect_uri=redirect_uri)
    assert flow.response.headers["Location"].startswith(redirect_uri + "?")
    response = oauth.exchange(pub, flow, redirect_uri=redirect_uri)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:53111/cb?x=1",
        "http://127.0.0.1/cb?x=1",
        "http://127.0.0.1:53111/cb/",
        "http://127.0.0.1:53111/other",
        "http://127.0.0.1/other",
        "http://127.0.0.1:53111/cb#x",
        "http://localhost/cb",
        "http://localhost:53111/cb",
        "http://[::1]:53111/cb",
        "http://127.0.0.2:53111/cb",
        "http://127.1:53111/cb",
        "https://127.0.0.1:53111/cb",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:-1/cb",
        "http://127.0.0.1:+80/cb",
        "http://127.0.0.1:53111@evil.test/cb",
        "http://user@127.0.0.1:53111/cb",
        "http://127.0.0.1.evil.test:53111/cb",
        "http://evil.test/cb",
    ],
)
def test_loopback_redirect_uri_differing_beyond_the_port_gets_error_page(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any, app: Flask, redirect_uri: str
) -> None:
    oauth.approve(pub)
    before = count_rows(app, AuthorizationCode)
    response, _ = oauth.authorize(pub, redirect_uri=redirect_uri)
    assert_error_page(response)
    assert count_rows(app, AuthorizationCode) == before


# -- RU-09: token request redirect_uri must equal the authorization request's -------------
@pytest.mark.parametrize(
    ("client_name", "authorize_uri", "token_uri"),
    [
        ("conf", "https://app.test/cb", "https://app.test/cb/"),
        ("conf", "https://app.test/cb", "https://APP.test/cb"),
        ("conf", "https://app.test/cb", EVIL),
        ("conf", "https://app.test/cb", None),
        ("conf", "https://app.test/cb", ""),
        ("two", "https://two.test/a", "https://two.test/b"),
        ("two", "https://two.test/a", None),
        ("pub", "http://127.0.0.1:53111/cb", "http://127.0.0.1:53112/cb"),
        ("pub", "http://127.0.0.1:53111/cb", "http://127.0.0.1/cb"),
        ("pub", "http://127.0.0.1/cb", "http://127.0.0.1:53111/cb"),
    ],
)
def test_token_request_with_different_redirect_uri_is_invalid_grant(
    oauth: OAuthActions,
    request: pytest.FixtureRequest,
    bob: Any,
    client_name: str,
    authorize_uri: str,
    token_uri: str | None,
) -> None:
    client: RegisteredClient = request.getfixturevalue(client_name)
    flow = oauth.approve(client, redirect_uri=authorize_uri)
    fields: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "code_verifier": flow.verifier,
    }
    if token_uri is not None:
        fields["redirect_uri"] = token_uri
    response = oauth.token(client, **fields)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None
    assert response.json["error"] == "invalid_grant"
    assert "access_token" not in response.json
    assert response.headers["Cache-Control"] == "no-store"

"""Remembered consent and public clients whose identity is not assured (docs/security.md NA-01).

RFC 6749 §10.2 and RFC 8252 §8.6: a public client on a loopback (or private-use) redirect URI
can be impersonated by anyone listening on that port, with their own PKCE challenge, so it
never gets a code without the user on the consent page; ``prompt=none`` answers
``consent_required``. An https redirect URI on a real host identifies the client: remembered
consent stays silent there. Pushed requests (RFC 9126) follow the same rule.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.oauth.helpers import (
    CONSENT_TICKET,
    ClientFactory,
    OAuthActions,
    RegisteredClient,
    query_of,
)
from tests.oauth.par_helpers import flow_result, follow, push
from tests.oauth_fixtures import ALL_SCOPES


def is_consent_page(response: TestResponse) -> bool:
    return response.status_code == 200 and bool(
        CONSENT_TICKET.search(response.get_data(as_text=True))
    )


def public_client(clients: ClientFactory, redirect_uri: str) -> RegisteredClient:
    return clients.create(
        client_name="Native app",
        redirect_uris=[redirect_uri],
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="none",
        scope=ALL_SCOPES,
    )


def test_approved_loopback_client_is_asked_again_for_an_attackers_pkce_challenge(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    first = oauth.approve(pub, scope="openid photos.read")
    assert first.code
    # Another process on bob's machine, on another port, with its own challenge.
    hijack, _ = oauth.authorize(
        pub, scope="openid photos.read", redirect_uri="http://127.0.0.1:49152/cb"
    )
    assert is_consent_page(hijack)
    assert "Location" not in hijack.headers
    html = hijack.get_data(as_text=True)
    assert re.findall(r'name="granted_scope" value="([^"]+)" checked', html) == ["photos.read"]


def test_approved_loopback_client_gets_consent_required_for_prompt_none(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    oauth.approve(pub, scope="openid photos.read")
    silent, _ = oauth.authorize(
        pub, scope="openid photos.read", prompt="none", state="na-1",
        redirect_uri="http://127.0.0.1:49153/cb",
    )  # fmt: skip
    assert silent.status_code == 302
    location = silent.headers["Location"]
    assert location.startswith("http://127.0.0.1:49153/cb?")
    params = query_of(location)
    assert params["error"] == "consent_required" and params["state"] == "na-1"
    assert "code" not in params


def test_the_consent_page_still_completes_for_a_loopback_client(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    oauth.approve(pub, scope="openid photos.read")
    again = oauth.approve(pub, scope="openid photos.read")  # shown the page, allowed
    assert again.code
    token = oauth.exchange(pub, again)
    assert token.status_code == 200, token.json


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost/cb",
        "http://[::1]/cb",
        "https://localhost/cb",
        "https://app.localhost/cb",  # browsers send *.localhost to loopback (RFC 6761 §6.3)
        "https://localhost./cb",
        "https://[::ffff:127.0.0.1]/cb",
        "https://127.0.0.2/cb",
        "https://192.168.1.20/cb",  # an IP literal names a machine, not a site
    ],
)
def test_every_loopback_form_needs_the_user(
    oauth: OAuthActions, clients: ClientFactory, bob: Any, redirect_uri: str
) -> None:
    native = public_client(clients, redirect_uri)
    oauth.approve(native, scope="openid")
    response, _ = oauth.authorize(native, scope="openid")
    assert is_consent_page(response)


def test_public_client_on_an_https_host_keeps_silent_reauthorization(
    oauth: OAuthActions, clients: ClientFactory, bob: Any
) -> None:
    spa = public_client(clients, "https://spa.test/cb")
    oauth.approve(spa, scope="openid photos.read")
    response, _ = oauth.authorize(spa, scope="openid photos.read", prompt="none")
    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])


def test_confidential_client_keeps_silent_reauthorization(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.approve(conf, scope="openid")
    response, _ = oauth.authorize(conf, scope="openid", prompt="none")
    assert "code" in query_of(response.headers["Location"])


def test_pushed_request_of_an_approved_loopback_client_shows_the_consent_page(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    oauth.approve(pub, scope="openid")
    pushed = push(oauth, pub, scope="openid")
    page = oauth.http.get(pushed.path(pub.client_id))
    assert is_consent_page(page)
    done = oauth.decide(page, pushed.path(pub.client_id))
    result = flow_result(done, pushed)
    assert oauth.exchange(pub, result).status_code == 200
    silent = push(oauth, pub, scope="openid", prompt="none")
    answer = follow(oauth, pub, silent)
    assert query_of(answer.headers["Location"])["error"] == "consent_required"

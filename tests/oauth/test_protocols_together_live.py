"""The five protocols of issue 7 meeting in one live Tessera (gunicorn, 2 workers), driven by a
real client over HTTP (requests + joserfc): discovery, dynamic registration (RFC 7591/7592),
pushed authorization requests (RFC 9126), DPoP (RFC 9449), resource indicators (RFC 8707)
and the device authorization grant (RFC 8628). Each step asserts what the client sees."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.live import LiveServer, live_settings
from tests.oauth.dpop_support import DPoPClient, claims_of
from tests.oauth.helpers import CONSENT_TICKET, ClientFactory, pkce_pair, query_of

pytestmark = pytest.mark.live

TIMEOUT = 10
PRINT_API = "https://print.example.com/api"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REDIRECT_URI = "http://127.0.0.1:8080/callback"
GRANTED = re.compile(r'name="granted_scope" value="([^"]+)"')


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # The extra API is known to the test app too: the Print API client is registered there.
    return app_config | {
        "REGISTRATION_MODE": "open",
        "DEVICE_POLL_INTERVAL": 1,
        "OAUTH_EXTRA_RESOURCES": [PRINT_API],
    }


@pytest.fixture
def server(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    """gunicorn configured from the environment, as an operator would, with an extra API."""
    settings = live_settings(app_config, instance_path) | {
        "FLASK_OAUTH_EXTRA_RESOURCES": json.dumps([PRINT_API]),
    }
    live = LiveServer(settings, tmp_path / "gunicorn.log").start()
    yield live
    live.stop()


class Client:
    """A public client over HTTP: one requests session for the back channel, one DPoP key."""

    def __init__(self, base: str, key: DPoPClient | None = None) -> None:
        self.base = base
        self.http = requests.Session()
        self.key = key or DPoPClient()
        self.client_id = ""

    def register(self, metadata: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/register", json=metadata, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
        assert response.headers["Cache-Control"] == "no-store"
        info: dict[str, Any] = response.json()
        assert "client_secret" not in info  # public: token_endpoint_auth_method none
        self.client_id = info["client_id"]
        return info

    def token(
        self, *, key: DPoPClient | None = None, proof: bool = True, **form: str
    ) -> requests.Response:
        """POST /token as this public client, with a fresh proof of ``key`` (default: own)."""
        url = f"{self.base}/token"
        headers = {"DPoP": (key or self.key).proof("POST", url)} if proof else {}
        return self.http.post(
            url, data={"client_id": self.client_id} | form, headers=headers, timeout=TIMEOUT
        )

    def photos(self, access_token: str, scheme: str = "DPoP") -> requests.Response:
        url = f"{self.base}/api/v1/photos"
        headers = {"Authorization": f"{scheme} {access_token}"}
        if scheme == "DPoP":
            headers["DPoP"] = self.key.proof("GET", url, access_token=access_token)
        return self.http.get(url, headers=headers, timeout=TIMEOUT)


def sign_in(browser: requests.Session, login_page: requests.Response) -> requests.Response:
    """Bob fills in the login form he was sent to; returns the page he lands on."""
    assert "/login" in login_page.url, login_page.url
    form = {
        "username": "bob",
        "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_token_from(login_page.text),
    }
    return browser.post(login_page.url, data=form, timeout=TIMEOUT)


def consent_form(html: str, **extra: str) -> dict[str, Any]:
    ticket = CONSENT_TICKET.search(html)
    assert ticket, html[:300]
    return {
        "csrf_token": csrf_token_from(html),
        "consent_ticket": ticket.group(1),
        "decision": "allow",
        "granted_scope": GRANTED.findall(html),
    } | extra


def pushed_code(client: Client, scope: str, resource: str) -> tuple[str, str, str]:
    """PAR, then bob signs in and allows at /authorize?client_id&request_uri.

    Returns (code, code_verifier, consent page HTML).
    """
    verifier, challenge = pkce_pair()
    pushed = client.http.post(
        f"{client.base}/par",
        data={
            "client_id": client.client_id, "response_type": "code",
            "redirect_uri": REDIRECT_URI, "scope": scope, "state": "st-1",
            "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource,
        },
        timeout=TIMEOUT,
    )  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    path = f"{client.base}/authorize?" + urlencode(
        {"client_id": client.client_id, "request_uri": pushed.json()["request_uri"]}
    )
    browser = requests.Session()
    consent = sign_in(browser, browser.get(path, timeout=TIMEOUT))
    assert consent.status_code == 200 and consent.url == path, consent.url
    answer = browser.post(path, data=consent_form(consent.text), allow_redirects=False,
                          timeout=TIMEOUT)  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["Location"].startswith(REDIRECT_URI + "?")
    params = query_of(answer.headers["Location"])
    assert params["state"] == "st-1" and params["iss"] == client.base
    return params["code"], verifier, consent.text


def approve_device(base: str, user_code: str) -> None:
    """Bob types the code on /device, signs in, and allows on the consent page."""
    browser = requests.Session()
    entry = browser.get(f"{base}/device", timeout=TIMEOUT)
    assert "Code" in entry.text
    form = {"user_code": user_code.lower(), "csrf_token": csrf_token_from(entry.text)}
    back = sign_in(browser, browser.post(f"{base}/device", data=form, timeout=TIMEOUT))
    assert back.url.startswith(f"{base}/device?user_code="), back.url
    form = {"user_code": user_code, "csrf_token": csrf_token_from(back.text)}
    consent = browser.post(f"{base}/device", data=form, timeout=TIMEOUT)
    assert consent.status_code == 200 and user_code in consent.text
    done = browser.post(
        f"{base}/device/decide", data=consent_form(consent.text, user_code=user_code),
        timeout=TIMEOUT,
    )  # fmt: skip
    assert done.status_code == 200 and done.url == f"{base}/device/done", done.text[:300]


def assert_tokens(response: requests.Response, key: DPoPClient, aud: str) -> dict[str, Any]:
    """A 200 token response of DPoP-bound tokens for ``aud``."""
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    tokens: dict[str, Any] = response.json()
    assert tokens["token_type"] == "DPoP"
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == aud
    assert claims["cnf"] == {"jkt": key.jkt}
    return tokens


def assert_refused(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_a_new_public_clients_first_day(server: LiveServer, bob: Any) -> None:
    base = server.url
    as_meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    oidc_meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=TIMEOUT)
    for document in (as_meta.json(), oidc_meta.json()):
        assert document["registration_endpoint"] == f"{base}/register"
        assert document["pushed_authorization_request_endpoint"] == f"{base}/par"
        assert document["device_authorization_endpoint"] == f"{base}/device_authorization"
        assert DEVICE_GRANT in document["grant_types_supported"]
        assert "ES256" in document["dpop_signing_alg_values_supported"]
    resource_meta = requests.get(f"{base}/.well-known/oauth-protected-resource", timeout=TIMEOUT)
    photo_api = resource_meta.json()["resource"]
    assert photo_api == f"{base}/api/v1"
    assert "ES256" in resource_meta.json()["dpop_signing_alg_values_supported"]

    app = Client(base)
    info = app.register({
        "client_name": "Photo Book", "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "offline_access photos.read", "dpop_bound_access_tokens": True,
    })  # fmt: skip
    assert info["dpop_bound_access_tokens"] is True
    assert info["registration_client_uri"] == f"{base}/register/{app.client_id}"

    code, verifier, consent_page = pushed_code(app, "offline_access photos.read", photo_api)
    assert "Photo Book" in consent_page
    exchange: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    # registered with dpop_bound_access_tokens: no proof, no tokens, and the code is not spent
    assert_refused(app.token(proof=False, **exchange), 400, "invalid_dpop_proof")
    tokens = assert_tokens(app.token(**exchange), app.key, photo_api)
    assert tokens["scope"] == "offline_access photos.read"

    listed = app.photos(tokens["access_token"])
    assert listed.status_code == 200, listed.text
    as_bearer = app.photos(tokens["access_token"], scheme="Bearer")
    assert_refused(as_bearer, 401, "invalid_token")

    refreshed = assert_tokens(
        app.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]),
        app.key, photo_api,
    )  # fmt: skip
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    thief = DPoPClient()
    stolen = app.token(
        key=thief, grant_type="refresh_token", refresh_token=refreshed["refresh_token"]
    )
    assert_refused(stolen, 400, "invalid_grant")
    again = assert_tokens(
        app.token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"]),
        app.key, photo_api,
    )  # fmt: skip
    assert app.photos(again["access_token"]).status_code == 200

    manage = {"Authorization": f"Bearer {info['registration_access_token']}"}
    read = requests.get(info["registration_client_uri"], headers=manage, timeout=TIMEOUT)
    assert read.status_code == 200, read.text
    assert read.json()["client_id"] == app.client_id
    assert read.json()["dpop_bound_access_tokens"] is True
    deleted = requests.delete(info["registration_client_uri"], headers=manage, timeout=TIMEOUT)
    assert deleted.status_code == 204

    assert_refused(app.photos(again["access_token"]), 401, "invalid_token")
    gone = app.token(grant_type="refresh_token", refresh_token=again["refresh_token"])
    assert_refused(gone, 401, "invalid_client")


def test_a_tv_signs_in_with_the_device_flow_and_dpop(server: LiveServer, bob: Any) -> None:
    base = server.url
    tv = Client(base)
    tv.register({
        "client_name": "Living-room TV", "token_endpoint_auth_method": "none",
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "scope": "openid offline_access photos.read", "dpop_bound_access_tokens": True,
    })  # fmt: skip
    started = tv.http.post(
        f"{base}/device_authorization",
        data={"client_id": tv.client_id, "scope": "offline_access photos.read"},
        timeout=TIMEOUT,
    )
    assert started.status_code == 200, started.text
    grant = started.json()
    assert grant["interval"] == 1 and grant["verification_uri"] == f"{base}/device"
    poll: dict[str, Any] = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    assert_refused(tv.token(**poll), 400, "authorization_pending")

    approve_device(base, grant["user_code"])
    time.sleep(grant["interval"])
    # registered with dpop_bound_access_tokens: a poll without a proof gets nothing and
    # leaves the approved code for the next, proper poll
    assert_refused(tv.token(proof=False, **poll), 400, "invalid_dpop_proof")
    photo_api = f"{base}/api/v1"
    tokens = assert_tokens(tv.token(**poll), tv.key, photo_api)
    assert tokens["scope"] == "offline_access photos.read"
    assert tv.photos(tokens["access_token"]).status_code == 200
    assert_refused(tv.photos(tokens["access_token"], scheme="Bearer"), 401, "invalid_token")
    assert_refused(tv.token(**poll), 400, "invalid_grant")  # redeemed once

    refreshed = tv.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert tv.photos(assert_tokens(refreshed, tv.key, photo_api)["access_token"]).status_code == 200


def test_a_token_for_the_extra_resource_is_not_one_for_the_photo_api(
    server: LiveServer, clients: ClientFactory, bob: Any
) -> None:
    base = server.url
    printer = Client(base)
    printer.register({
        "client_name": "Print Shop", "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "offline_access photos.read",
    })  # fmt: skip
    code, verifier, consent_page = pushed_code(printer, "photos.read", PRINT_API)
    assert PRINT_API in consent_page  # the consent page names the other resource
    exchange: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    tokens = assert_tokens(printer.token(**exchange), printer.key, PRINT_API)
    assert "refresh_token" not in tokens  # no offline_access asked

    assert_refused(printer.photos(tokens["access_token"]), 401, "invalid_token")

    print_api = clients.create(
        client_name="Print API", grant_types=["client_credentials"], scope="photos.read",
        resource_server=True, resource_audiences=[PRINT_API],
    )  # fmt: skip
    introspected = requests.post(
        f"{base}/introspect", data={"token": tokens["access_token"]},
        auth=(print_api.client_id, print_api.client_secret or ""), timeout=TIMEOUT,
    )  # fmt: skip
    assert introspected.status_code == 200, introspected.text
    body = introspected.json()
    assert body["active"] is True
    assert body["aud"] == PRINT_API
    assert body["client_id"] == printer.client_id
    assert body["token_type"] == "DPoP" and body["cnf"] == {"jkt": printer.key.jkt}

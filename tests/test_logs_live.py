"""LG-01: nothing secret in any log line, under gunicorn as ``make run`` starts it.

One live server with its access log and error log in one file; a code flow with PKCE and a
refresh, a client that puts secrets in query strings, the device page opened from
``verification_uri_complete``, and an RP-initiated logout with ``id_token_hint`` in the query.
Then every value the flow used is looked for in the log (pen-test case 13).
"""

from __future__ import annotations

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
from tests.oauth.device_helpers import register_device_client
from tests.oauth.helpers import CONSENT_TICKET, ClientFactory, RegisteredClient, pkce_pair, query_of

pytestmark = pytest.mark.live

TIMEOUT = 10
BYE = "https://app.test/bye"
SCOPE = "openid profile offline_access photos.read"


@pytest.fixture
def server(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    settings = live_settings(app_config, instance_path)
    live = LiveServer(settings, tmp_path / "gunicorn.log", access_log=True).start()
    yield live
    live.stop()


def sign_in(browser: requests.Session, login_page: requests.Response) -> requests.Response:
    assert "/login?next=" in login_page.url, login_page.url
    form = {
        "username": "bob",
        "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_token_from(login_page.text),
    }
    return browser.post(login_page.url, data=form, timeout=TIMEOUT)


def code_flow(base: str, client: RegisteredClient) -> tuple[str, str]:
    """Bob signs in and allows, requests playing his browser; returns (code, verifier)."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code", "client_id": client.client_id,
        "redirect_uri": client.redirect_uri, "scope": SCOPE, "state": "st-logs",
        "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    authorize = f"{base}/authorize?" + urlencode(query)
    browser = requests.Session()
    consent = sign_in(browser, browser.get(authorize, timeout=TIMEOUT))
    ticket = CONSENT_TICKET.search(consent.text)
    assert ticket, consent.text[:300]
    decision = {
        "csrf_token": csrf_token_from(consent.text),
        "consent_ticket": ticket.group(1),
        "decision": "allow",
        "granted_scope": SCOPE.split(),
    }
    answer = browser.post(
        authorize, data=decision, headers={"Referer": authorize}, allow_redirects=False,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    return query_of(answer.headers["Location"])["code"], verifier


def test_no_token_code_secret_or_user_code_reaches_the_logs(
    server: LiveServer, conf: RegisteredClient, clients: ClientFactory, bob: Any
) -> None:
    base = server.url
    secret = conf.client_secret or ""
    auth = (conf.client_id, secret)
    used: dict[str, str] = {"password": DEFAULT_PASSWORD, "client_secret": secret}

    code, verifier = code_flow(base, conf)
    used |= {"code": code, "code_verifier": verifier}
    exchange = {
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": conf.redirect_uri, "code_verifier": verifier,
    }  # fmt: skip
    issued = requests.post(f"{base}/token", data=exchange, auth=auth, timeout=TIMEOUT)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    used |= {name: tokens[name] for name in ("access_token", "refresh_token", "id_token")}
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = requests.post(f"{base}/token", data=refresh, auth=auth, timeout=TIMEOUT).json()
    used |= {
        "access_token 2": refreshed["access_token"],
        "refresh_token 2": refreshed["refresh_token"],
    }

    # A careless client: secrets in query strings, which Tessera refuses but gunicorn logs.
    requests.get(f"{base}/userinfo?access_token={tokens['access_token']}", timeout=TIMEOUT)
    careless = {
        "client_id": conf.client_id, "client_secret": secret, "code": code,
        "refresh_token": refreshed["refresh_token"], "token": refreshed["access_token"],
    }  # fmt: skip
    requests.get(f"{base}/token?" + urlencode(careless), timeout=TIMEOUT)

    # The device page opened from verification_uri_complete, then sign-in and back.
    tv = register_device_client(clients)
    started = requests.post(
        f"{base}/device_authorization",
        data={"client_id": tv.client_id, "scope": "openid photos.read"},
        timeout=TIMEOUT,
    ).json()
    used |= {"device_code": started["device_code"], "user_code": started["user_code"]}
    used["user_code as stored"] = started["user_code"].replace("-", "")
    tv_browser = requests.Session()
    page = tv_browser.get(started["verification_uri_complete"], timeout=TIMEOUT)
    assert started["user_code"] in page.text
    form = {"user_code": started["user_code"], "csrf_token": csrf_token_from(page.text)}
    login = tv_browser.post(
        f"{base}/device", data=form, headers={"Referer": page.url}, timeout=TIMEOUT
    )
    back = sign_in(tv_browser, login)
    assert back.url.startswith(f"{base}/device?user_code="), back.url

    # RP-initiated logout, the ID token in the query string as §2 allows.
    hint = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "bye"}
    bye = requests.get(f"{base}/end-session?" + urlencode(hint), allow_redirects=False,
                       timeout=TIMEOUT)  # fmt: skip
    assert bye.status_code == 302, bye.text[:300]

    server.stop()  # every worker has written its lines
    log = server.log()
    for line in ("GET /end-session?", "GET /device?", "GET /authorize?", "POST /token "):
        assert line in log, f"no access log line for {line}"
    leaked = [name for name, value in used.items() if value.lower() in log.lower()]
    assert not leaked, f"{leaked} in the log:\n{log}"
    assert "state=bye" in log, "only secret values are hidden; the rest stays readable"

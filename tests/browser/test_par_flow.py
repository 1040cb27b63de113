"""RFC 9126 end to end: PhotoPrint pushes its authorization request to gunicorn with
``requests``, sends Bob's chromium to /authorize with only client_id and request_uri, and
redeems the code; the same /authorize URL never works twice."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.browser.story import register
from tests.browser.test_code_flow import sign_in_and_allow
from tests.live import LiveServer
from tests.oauth.helpers import pkce_pair

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_photoprint_pushes_its_request_and_bob_authorizes_it_in_the_browser(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    client = register(cli_env, callback_url)
    auth = (client["client_id"], client["client_secret"])
    verifier, challenge = pkce_pair()
    pushed = requests.post(
        f"{live_server.url}/par",
        auth=auth,
        data={
            "response_type": "code",
            "redirect_uri": callback_url,
            "scope": "openid profile photos.read",
            "state": "st-par",
            "nonce": "n-par",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Cache-Control"] == "no-store"
    request_uri = pushed.json()["request_uri"]
    url = f"{live_server.url}/authorize?" + urlencode(
        {"client_id": client["client_id"], "request_uri": request_uri}
    )

    callback = sign_in_and_allow(page, url, callback_url)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert params["state"] == "st-par"
    assert params["iss"] == live_server.url

    token = requests.post(
        f"{live_server.url}/token",
        auth=auth,
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback_url,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "openid profile photos.read"

    replay = page.goto(url)
    assert replay is not None and replay.status == 400
    assert page.get_by_text("invalid_request_uri").is_visible()

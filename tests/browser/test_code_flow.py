"""The whole story in a real browser: PhotoPrint (authlib's OAuth2Session, a real OAuth
client library) sends Bob to Tessera, Bob signs in and clicks "Allow" in chromium, PhotoPrint
redeems the code with PKCE, calls userinfo, refreshes, and revokes."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.browser.story import register
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]


def sign_in_and_allow(page: Any, url: str, callback: str) -> str:
    """Follow the authorization URL as Bob; return the URL Tessera sent the browser back to."""
    page.goto(url)
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").wait_for()
    assert page.locator(".client-name").inner_text() == "PhotoPrint"
    assert page.get_by_text("See your photos").is_visible()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback + "?**")
    return str(page.url)


def test_photoprint_completes_the_code_flow_with_a_real_client_library(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    client = register(cli_env, callback_url)
    session = OAuth2Session(
        client["client_id"],
        client["client_secret"],
        scope="openid profile offline_access photos.read",
        redirect_uri=callback_url,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        f"{live_server.url}/authorize", code_verifier=verifier, nonce="n-browser"
    )

    callback = sign_in_and_allow(page, url, callback_url)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert params["state"] == state
    assert params["iss"] == live_server.url

    token = session.fetch_token(
        f"{live_server.url}/token", authorization_response=callback, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id_token"} <= set(token)

    me = session.get(f"{live_server.url}/userinfo", timeout=10)
    assert me.status_code == 200
    assert me.json()["preferred_username"] == "bob"

    old_access_token = token["access_token"]
    refreshed = session.refresh_token(f"{live_server.url}/token")
    assert refreshed["refresh_token"] != token["refresh_token"]

    revoked = session.revoke_token(
        f"{live_server.url}/revoke",
        token=refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    for access_token in (old_access_token, refreshed["access_token"]):
        answer = session.get(
            f"{live_server.url}/userinfo", headers={"Authorization": f"Bearer {access_token}"},
            withhold_token=True, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 401


def test_second_authorization_skips_the_consent_page(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    client = register(cli_env, callback_url)
    session = OAuth2Session(
        client["client_id"], client["client_secret"], scope="openid photos.read",
        redirect_uri=callback_url, code_challenge_method="S256",
    )  # fmt: skip
    first, _ = session.create_authorization_url(
        f"{live_server.url}/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    sign_in_and_allow(page, first, callback_url)
    url, _ = session.create_authorization_url(
        f"{live_server.url}/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    page.goto(url)
    page.wait_for_url(callback_url + "?**")
    assert "code" in parse_qs(urlsplit(page.url).query)

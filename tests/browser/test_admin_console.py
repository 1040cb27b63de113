"""The admin console in chromium: an admin made with the CLI signs in, registers a client
through the form, and that client completes a code flow; a hostile client name stays text."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.live import LiveServer, flask_cli

pytestmark = [pytest.mark.browser, pytest.mark.live]

ROOT_PASSWORD = "correct horse battery"
CALLBACK = "https://photoprint.test/callback"  # answered by the page's route, never the network
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def sign_in_as_admin(page: Any, live_server: LiveServer, cli_env: dict[str, str]) -> None:
    created = flask_cli(
        cli_env, "users", "create", "root", "--email", "root@example.com", "--password-stdin",
        "--admin", stdin=ROOT_PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(ROOT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


def register_through_the_form(page: Any, name: str) -> dict[str, str]:
    """From any page: Admin → Register client → fill → Register; what the result page shows."""
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Register client").click()
    page.get_by_label("Client name").fill(name)
    page.get_by_label("Redirect URIs", exact=True).fill(CALLBACK)
    page.get_by_label("authorization_code").check()
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Client registered").wait_for()
    shown = {}
    for label in ("Client ID", "Client secret"):
        shown[label] = page.locator(f"dt:text-is('{label}') + dd").inner_text()
    return shown


def authorize_url(base: str, client_id: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid photos.read",
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return f"{base}/authorize?{urlencode(query)}", verifier


def test_admin_registers_a_client_through_the_form_and_it_completes_a_flow(
    live_server: LiveServer, cli_env: dict[str, str], page: Any
) -> None:
    page.route(
        f"{CALLBACK}**", lambda route: route.fulfill(body="received", content_type="text/plain")
    )
    sign_in_as_admin(page, live_server, cli_env)
    shown = register_through_the_form(page, "PhotoPrint")
    assert len(shown["Client ID"]) == 32
    assert len(shown["Client secret"]) >= 43
    page.get_by_role("link", name="Clients").click()
    assert page.get_by_role("link", name="PhotoPrint").is_visible()

    url, verifier = authorize_url(live_server.url, shown["Client ID"])
    page.goto(url)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{CALLBACK}?**")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    token = requests.post(
        f"{live_server.url}/token",
        auth=(shown["Client ID"], shown["Client secret"]),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
              "code_verifier": verifier},
        timeout=10,
    )  # fmt: skip
    assert token.status_code == 200, token.text
    userinfo = requests.get(
        f"{live_server.url}/userinfo",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"]


def test_hostile_client_name_is_literal_text_and_runs_nothing(
    live_server: LiveServer, cli_env: dict[str, str], page: Any
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.route(
        f"{CALLBACK}**", lambda route: route.fulfill(body="received", content_type="text/plain")
    )
    sign_in_as_admin(page, live_server, cli_env)
    shown = register_through_the_form(page, HOSTILE_NAME)
    assert page.locator("dt:text-is('Client name') + dd").inner_text() == HOSTILE_NAME

    page.get_by_role("link", name="Clients").click()
    assert page.get_by_role("link", name=HOSTILE_NAME).is_visible()
    page.get_by_role("link", name=HOSTILE_NAME).click()
    assert page.get_by_role("heading", level=1).inner_text() == HOSTILE_NAME

    url, _ = authorize_url(live_server.url, shown["Client ID"])
    page.goto(url)  # the consent page names the client too
    page.get_by_role("button", name="Allow").wait_for()
    assert page.locator(".client-name").inner_text() == HOSTILE_NAME
    page.wait_for_timeout(300)  # time for a broken image's onerror, were there one
    assert page.locator("img[src=x]").count() == 0

    page.get_by_role("button", name="Allow").click()  # and My apps lists it, as text
    page.wait_for_url(f"{CALLBACK}?**")
    page.goto(f"{live_server.url}/account/apps")
    assert page.locator(".app-name").inner_text() == HOSTILE_NAME
    page.wait_for_timeout(300)
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_console_pages_fit_a_360_px_phone(
    live_server: LiveServer, cli_env: dict[str, str], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in_as_admin(page, live_server, cli_env)
    shown = register_through_the_form(page, "PhotoPrint")
    for path in ("/admin/clients", f"/admin/clients/{shown['Client ID']}", "/admin/clients/new",
                 "/admin/users"):  # fmt: skip
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    context.close()

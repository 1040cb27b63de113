"""RFC 8628 in a real browser: a photo frame shows a code, Bob types it into /device in
chromium, signs in, compares the code on the consent page and allows (or denies); the frame,
polling over HTTP, gets tokens (or access_denied)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.story import BOB_PASSWORD
from tests.live import LiveServer, flask_cli
from tests.oauth.device_helpers import DEVICE_GRANT, PollingDevice

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"DEVICE_POLL_INTERVAL": 1}


@pytest.fixture
def frame(live_server: LiveServer, cli_env: dict[str, str]) -> PollingDevice:
    """bob and a public device client, made with the CLI as an operator would."""
    user = flask_cli(cli_env, "users", "create", "bob", "--email", "bob@example.com",
                     "--password-stdin", stdin=BOB_PASSWORD + "\n")  # fmt: skip
    assert user.returncode == 0, user.stderr
    created = flask_cli(
        cli_env, "clients", "create", "--name", "Photo Frame", "--grant-types", DEVICE_GRANT,
        "--token-endpoint-auth-method", "none", "--scope", "openid profile photos.read",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return PollingDevice(live_server.url, json.loads(created.stdout)["client_id"])


def sign_in(page: Any) -> None:
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(BOB_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_bob_types_the_code_signs_in_and_allows_the_frame(
    live_server: LiveServer, frame: PollingDevice, page: Any
) -> None:
    grant = frame.start("openid profile photos.read")
    page.goto(grant["verification_uri"])
    page.get_by_label("Code").fill("  " + grant["user_code"].lower().replace("-", " "))
    page.get_by_role("button", name="Continue").click()
    sign_in(page)
    # Back on the verification page, the code already filled in.
    page.wait_for_url(f"{live_server.url}/device?user_code=**")
    assert page.get_by_label("Code").input_value() == grant["user_code"]
    page.get_by_role("button", name="Continue").click()

    page.get_by_role("button", name="Allow").wait_for()
    assert page.locator(".client-name").inner_text() == "Photo Frame"
    assert page.locator(".user-code").inner_text() == grant["user_code"]
    assert page.get_by_text("See your photos").is_visible()
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="You can return to your device").wait_for()

    response = frame.poll_until_done()
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid profile photos.read"


def test_bob_opens_the_complete_uri_and_denies(
    live_server: LiveServer, frame: PollingDevice, page: Any
) -> None:
    grant = frame.start("openid photos.read")
    page.goto(f"{live_server.url}/login")
    sign_in(page)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(grant["verification_uri_complete"])
    assert page.get_by_label("Code").input_value() == grant["user_code"]
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Deny").click()
    page.get_by_text("You denied access").wait_for()
    response = frame.poll_until_done()
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"


def test_a_mistyped_code_is_shown_again_with_a_message(
    live_server: LiveServer, frame: PollingDevice, page: Any
) -> None:
    page.goto(f"{live_server.url}/device")
    page.get_by_label("Code").fill("WDJB-MJHX")
    page.get_by_role("button", name="Continue").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not valid, or it has expired" in alert.inner_text()
    assert page.get_by_label("Code").input_value() == "WDJB-MJHX"

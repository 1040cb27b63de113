"""Signing in through the real login page in chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.live import LiveServer, flask_cli

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_user_created_by_cli_signs_in_and_out(
    live_server: LiveServer, cli_env: dict[str, str], page: Any
) -> None:
    created = flask_cli(
        cli_env, "users", "create", "bob", "--email", "bob@example.com", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    page.goto(f"{live_server.url}/login?next=/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_text("Signed in as").is_visible()
    assert page.locator("h1").inner_text() == "Welcome, bob"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login")
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert page.get_by_text("Signed in as").count() == 0


def test_wrong_password_shows_one_message_and_keyboard_works(
    live_server: LiveServer, cli_env: dict[str, str], page: Any
) -> None:
    flask_cli(cli_env, "users", "create", "bob", "--email", "b@example.com", "--password-stdin",
              stdin="correct horse battery\n")  # fmt: skip
    page.goto(f"{live_server.url}/login")
    # The username field takes focus on arrival (autofocus); wait for it, a loaded CI may lag.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    page.keyboard.type("bob")
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text() == "Invalid username or password."
    assert page.get_by_text("Signed in as").count() == 0


def test_login_page_refuses_to_be_framed(live_server: LiveServer, page: Any) -> None:
    html = f'<iframe id="f" src="{live_server.url}/login"></iframe>'
    page.route(
        "http://attacker.test/", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.goto("http://attacker.test/")
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    assert frame.get_by_role("button", name="Sign in").count() == 0

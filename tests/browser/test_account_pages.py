"""Consent, My apps and My photos in chromium, as Bob would use them."""

from __future__ import annotations

import io
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from PIL import Image

from tests.browser.story import BOB_PASSWORD, PHOTOPRINT_SCOPE, register
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]


def photoprint(
    live_server: LiveServer, cli_env: dict[str, str], callback_url: str
) -> OAuth2Session:
    info = register(cli_env, callback_url)
    return OAuth2Session(
        info["client_id"], info["client_secret"], scope=PHOTOPRINT_SCOPE,
        redirect_uri=callback_url, code_challenge_method="S256",
    )  # fmt: skip


def sign_in(page: Any, base_url: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}/login?next={next_path}")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(BOB_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def start_flow(session: OAuth2Session, live_server: LiveServer) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        f"{live_server.url}/authorize", code_verifier=verifier
    )
    return url, verifier


def test_granular_consent_gives_a_narrower_token_and_says_so(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    session = photoprint(live_server, cli_env, callback_url)
    url, verifier = start_flow(session, live_server)
    sign_in(page, live_server.url)
    page.goto(url)
    page.get_by_label("Upload, rename and delete your photos").uncheck()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback_url + "?**")
    token = session.fetch_token(
        f"{live_server.url}/token", authorization_response=page.url, code_verifier=verifier
    )
    assert token["scope"] == "openid profile offline_access photos.read"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    upload = requests.post(
        f"{live_server.url}/api/v1/photos",
        headers=bearer,
        files={"file": ("x.png", b"png")},
        timeout=10,
    )
    assert upload.status_code == 403
    assert 'scope="photos.write"' in upload.headers["WWW-Authenticate"]


def test_deny_sends_access_denied_back_with_state(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    session = photoprint(live_server, cli_env, callback_url)
    url, _ = start_flow(session, live_server)
    state = parse_qs(urlsplit(url).query)["state"][0]
    sign_in(page, live_server.url)
    page.goto(url)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(callback_url + "?**")
    params = parse_qs(urlsplit(page.url).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == [state]
    assert "code" not in params


def test_consent_works_with_the_keyboard_alone(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    session = photoprint(live_server, cli_env, callback_url)
    url, _ = start_flow(session, live_server)
    sign_in(page, live_server.url)
    page.goto(url)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Allow":
            break
    else:
        pytest.fail("Tab never reached the Allow button")
    page.keyboard.press("Enter")
    page.wait_for_url(callback_url + "?**")
    assert "code" in parse_qs(urlsplit(page.url).query)


def test_consent_page_refuses_to_be_framed(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    session = photoprint(live_server, cli_env, callback_url)
    url, _ = start_flow(session, live_server)
    sign_in(page, live_server.url)
    page.goto(url)
    assert page.get_by_role("button", name="Allow").is_visible()  # it renders on its own
    html = f'<iframe id="f" src="{url}"></iframe>'
    page.route(
        "http://attacker.test/", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.goto("http://attacker.test/")
    page.wait_for_timeout(500)
    assert page.frame_locator("#f").get_by_role("button", name="Allow").count() == 0


def test_revoking_in_my_apps_makes_the_api_refuse_the_token(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str
) -> None:
    session = photoprint(live_server, cli_env, callback_url)
    url, verifier = start_flow(session, live_server)
    sign_in(page, live_server.url)
    page.goto(url)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(callback_url + "?**")
    token = session.fetch_token(
        f"{live_server.url}/token", authorization_response=page.url, code_verifier=verifier
    )
    api = f"{live_server.url}/api/v1/photos"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(api, headers=bearer, timeout=10).status_code == 200

    page.goto(f"{live_server.url}/account/apps")
    item = page.get_by_role("listitem").filter(has_text="PhotoPrint").first
    assert "read 1 photos" in item.inner_text()
    with page.expect_navigation():
        item.get_by_role("link", name="Revoke").click()
    assert page.get_by_role("heading", name="Revoke PhotoPrint?").is_visible()
    assert requests.get(api, headers=bearer, timeout=10).status_code == 200  # nothing yet
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel").click()
    with page.expect_navigation():
        item.get_by_role("link", name="Revoke").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke").click()
    assert page.get_by_text("You have not allowed any app").is_visible()
    assert requests.get(api, headers=bearer, timeout=10).status_code == 401


def test_my_photos_upload_rename_delete(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str, tmp_path: Any
) -> None:
    register(cli_env, callback_url)
    picture = tmp_path / "harbour.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (31, 119, 180)).save(buffer, format="JPEG")
    picture.write_bytes(buffer.getvalue())
    sign_in(page, live_server.url, "/account/photos")
    page.get_by_label("Photo").set_input_files(str(picture))
    page.get_by_label("Title").fill("Harbour")
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    image = page.get_by_role("img", name="Harbour")
    image.wait_for()
    assert page.evaluate("document.querySelector('.photo img').naturalWidth") > 0
    page.get_by_label("New title").fill("Harbour at dusk")
    with page.expect_navigation():
        page.get_by_role("button", name="Rename").click()
    assert page.get_by_role("img", name="Harbour at dusk").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Delete Harbour at dusk").click()
    assert page.get_by_role("heading", name="Delete “Harbour at dusk”?").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Delete").click()
    assert page.get_by_text("No photos yet.").is_visible()


def noisy_png(path: Any, side: int) -> int:
    """Random pixels (they do not compress) as a PNG at ``path``; returns its size."""
    import os

    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, format="PNG")
    return int(path.stat().st_size)


@pytest.mark.limits(PHOTO_MAX_BYTES=20_000)
def test_an_upload_over_the_limit_shows_my_photos_again(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, callback_url: str, tmp_path: Any
) -> None:
    register(cli_env, callback_url)
    sign_in(page, live_server.url, "/account/photos")
    over = tmp_path / "over.png"
    assert 20_000 < noisy_png(over, 100) < 64 * 1024  # read, then refused by the view
    page.get_by_label("Photo").set_input_files(str(over))
    page.get_by_label("Title").fill("Dunes")
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    assert page.get_by_role("heading", name="My photos").is_visible()
    assert "the limit is 20.0 kB" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Title").input_value() == "Dunes"

    huge = tmp_path / "huge.png"
    assert noisy_png(huge, 300) > 20_000 + 64 * 1024  # refused before the body is read
    page.get_by_label("Photo").set_input_files(str(huge))
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    assert page.get_by_role("heading", name="My photos").is_visible()
    assert "refused before it was read" in page.get_by_role("alert").inner_text()
    assert page.get_by_text("No photos yet.").is_visible()


@pytest.mark.parametrize("path", ["/account/apps", "/account/photos"])
def test_pages_fit_a_360_px_phone(
    live_server: LiveServer, cli_env: dict[str, str], browser: Any, callback_url: str, path: str
) -> None:
    register(cli_env, callback_url)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in(page, live_server.url, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()

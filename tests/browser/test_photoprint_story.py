"""Bob's story with the real third party: PhotoPrint (examples/photoprint, authlib's
OAuth2Session + PAR + DPoP) and Tessera under gunicorn, driven in chromium.

Tessera issues 30-second access tokens and PhotoPrint renews 60 s ahead, so every page
PhotoPrint serves first refreshes its token (rotating the refresh token); Tessera also
demands DPoP nonces, so each first proof is answered with ``use_dpop_nonce`` and resent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from requests.auth import HTTPBasicAuth

from tests.browser.story import BOB_PASSWORD
from tests.examples.photoprint_support import (
    import_photoprint,
    pdf_pages_and_subject,
    running_photoprint,
)
from tests.live import LiveServer, flask_cli

import_photoprint()
from photoprint.dpop import DPoPAuth, DPoPKey  # noqa: E402 - the example is not installed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.limits(OAUTH_ACCESS_TOKEN_TTL=30, DPOP_NONCE_REQUIRED=True),
]
BOBS = ("Harbour", "Meadow", "Sunset")
ALICES = ("Lavender", "Autumn")


def allow_at_tessera(page: Any, *, sign_in: bool) -> None:
    if sign_in:
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(BOB_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").wait_for()
    assert page.locator(".client-name").inner_text() == "PhotoPrint"
    page.get_by_role("button", name="Allow").click()


def renewals(page: Any) -> int:
    return int(page.locator(".refreshes").inner_text())


def stored_connection(app: Any) -> Any:
    """PhotoPrint's one connection row (Bob's), as its store reads it."""
    store = app.extensions["photoprint.store"]
    with store._db() as db:
        (row,) = db.execute("SELECT id FROM connection").fetchall()
    return store.get(row[0])


def stored_token(app: Any) -> dict[str, Any]:
    token: dict[str, Any] = stored_connection(app).token
    return token


def client_credentials(app: Any) -> tuple[str, str]:
    client = app.extensions["photoprint.client"]
    return client.client_id, client.client_secret


def test_bob_prints_his_photos_with_photoprint_and_revokes_it(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, tmp_path: Path
) -> None:
    seeded = flask_cli(cli_env, "demo", "--password-stdin", stdin=BOB_PASSWORD + "\n")
    assert seeded.returncode == 0, seeded.stderr
    with running_photoprint(live_server.url, cli_env, tmp_path / "photoprint") as (url, app):
        page.goto(url)
        page.get_by_role("button", name="Print my photos").click()
        page.wait_for_url(f"{live_server.url}/login?**")
        assert "request_uri" in page.url  # pushed (RFC 9126): only client_id and request_uri
        allow_at_tessera(page, sign_in=True)
        page.wait_for_url(f"{url}/photos")

        titles = page.locator(".photo .title").all_inner_texts()
        assert sorted(titles) == sorted(BOBS)
        assert not set(ALICES) & set(page.locator("main").inner_text().split())
        first = renewals(page)
        assert first >= 1  # the 30 s token was due: PhotoPrint renewed it before listing

        with page.expect_download() as download:
            page.get_by_role("link", name="Download contact sheet (PDF)").click()
        pdf = Path(download.value.path()).read_bytes()
        assert pdf_pages_and_subject(pdf) == (1, "3 photos")

        old_refresh = stored_token(app)["refresh_token"]
        page.get_by_role("link", name="Reload my photos").click()
        page.wait_for_load_state()
        assert renewals(page) > first
        token = stored_token(app)
        assert token["refresh_token"] != old_refresh  # rotated on each renewal
        assert token["token_type"] == "DPoP"
        api = f"{live_server.url}/api/v1/photos"
        for scheme in ("Bearer", "DPoP"):  # without PhotoPrint's key the token is worthless
            stolen = requests.get(
                api, headers={"Authorization": f"{scheme} {token['access_token']}"}, timeout=10
            )
            assert stolen.status_code == 401, scheme

        page.goto(f"{live_server.url}/account/apps")
        item = page.get_by_role("listitem").filter(has_text="PhotoPrint").first
        with page.expect_navigation():
            item.get_by_role("link", name="Revoke").click()
        assert page.get_by_role("heading", name="Revoke PhotoPrint?").is_visible()
        with page.expect_navigation():
            page.get_by_role("button", name="Revoke").click()

        page.goto(f"{url}/photos")
        assert page.get_by_role("heading", name="Access was revoked. Connect again").is_visible()
        page.get_by_role("button", name="Connect again").click()
        allow_at_tessera(page, sign_in=False)  # still signed in at Tessera: consent only
        page.wait_for_url(f"{url}/photos")
        assert sorted(page.locator(".photo .title").all_inner_texts()) == sorted(BOBS)

        again, key = stored_token(app), DPoPKey.from_json(stored_connection(app).dpop_key)
        page.goto(url)
        page.get_by_role("button", name="Disconnect from Tessera").click()
        page.get_by_role("button", name="Print my photos").wait_for()
        with app.extensions["photoprint.store"]._db() as db:
            assert db.execute("SELECT count(*) FROM connection").fetchone() == (0,)
        refresh = requests.post(  # RFC 7009 at /revoke ended the whole authorization
            f"{live_server.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": again["refresh_token"]},
            auth=DPoPAuth(key, inner=HTTPBasicAuth(*client_credentials(app))),
            timeout=10,
        )
        assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_bob_says_no_and_photoprint_says_so(
    live_server: LiveServer, cli_env: dict[str, str], page: Any, tmp_path: Path
) -> None:
    seeded = flask_cli(cli_env, "demo", "--password-stdin", stdin=BOB_PASSWORD + "\n")
    assert seeded.returncode == 0, seeded.stderr
    with running_photoprint(live_server.url, cli_env, tmp_path / "photoprint") as (url, _):
        page.goto(url)
        page.get_by_role("button", name="Print my photos").click()
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(BOB_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(f"{url}/callback?**")
        assert page.get_by_text("You chose not to let PhotoPrint see your photos").is_visible()
        assert page.get_by_role("button", name="Connect again").is_visible()

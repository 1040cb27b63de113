"""/account/apps: what Bob allowed, what each app did, and "Revoke" (docs/security.md RT-07)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import PhotoApi
from tests.helpers import csrf_token_from
from tests.oauth.helpers import OAuthActions, RegisteredClient


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    for path in ("/account/apps", "/account/photos"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next=%2F{path[1:].replace('/', '%2F')}"


def test_an_app_bob_allowed_is_listed_with_scopes_and_activity(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid photos.read photos.write")
    api = PhotoApi(app.test_client(), tokens["access_token"])
    api.upload()
    for _ in range(3):
        api.get("/photos")
    html = oauth.http.get("/account/apps").get_data(as_text=True)
    assert '<h2 class="app-name">PhotoPrint</h2>' in html
    assert "See your photos" in html and "Upload, rename and delete your photos" in html
    assert "read 3 photos, uploaded 1, renamed 0, deleted 0 in the last 30 days" in html
    assert "last used never" not in html


def test_revoke_ends_every_token_of_that_app_at_once(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    api = PhotoApi(app.test_client(), tokens["access_token"])
    assert api.get("/photos").status_code == 200
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    response = oauth.http.post(
        f"/account/apps/{conf.client_id}/revoke",
        data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
    )
    assert response.status_code == 303
    assert api.get("/photos").status_code == 401
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.json is not None and refreshed.json["error"] == "invalid_grant"
    introspected = oauth.introspect(conf, tokens["access_token"])
    assert introspected.json == {"active": False}
    assert "PhotoPrint" not in oauth.http.get("/account/apps").get_data(as_text=True)
    # The consent is gone too: the next authorization asks again.
    again, _ = oauth.authorize(conf)
    assert again.status_code == 200 and "Allow" in again.get_data(as_text=True)


def test_revoke_needs_csrf_and_post(oauth: OAuthActions, conf: RegisteredClient, bob: Any) -> None:
    oauth.tokens_for(conf)
    revoke = f"/account/apps/{conf.client_id}/revoke"
    assert oauth.http.post(revoke, data={"confirm": "yes"}).status_code == 400
    assert oauth.http.get(revoke).status_code == 200  # the confirm page, which revokes nothing
    assert "PhotoPrint" in oauth.http.get("/account/apps").get_data(as_text=True)


def test_revoke_asks_first_on_a_page_with_a_csrf_protected_form(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid photos.read")
    api = PhotoApi(app.test_client(), tokens["access_token"])
    listing = oauth.http.get("/account/apps").get_data(as_text=True)
    revoke = f"/account/apps/{conf.client_id}/revoke"
    assert f'href="{revoke}"' in listing  # a link to the confirm page, not a form

    html = oauth.http.get(revoke).get_data(as_text=True)
    assert "<h1>Revoke PhotoPrint?</h1>" in html
    form = html.split(f'<form method="post" action="{revoke}"', 1)[1].split("</form>")[0]
    assert 'name="confirm" value="yes"' in form
    assert '<a href="/account/apps">Cancel</a>' in form
    assert api.get("/photos").status_code == 200  # showing the page revoked nothing

    done = oauth.http.post(revoke, data={"csrf_token": csrf_token_from(form), "confirm": "yes"})
    assert done.status_code == 303
    assert api.get("/photos").status_code == 401


@pytest.mark.parametrize("confirm", [None, "", "no"])
def test_a_revoke_post_without_confirmation_shows_the_confirm_page_and_revokes_nothing(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, app: Any, confirm: str | None
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid photos.read")
    api = PhotoApi(app.test_client(), tokens["access_token"])
    token = csrf_token_from(oauth.http.get("/account/apps").get_data(as_text=True))
    data = {"csrf_token": token} | ({} if confirm is None else {"confirm": confirm})
    response = oauth.http.post(f"/account/apps/{conf.client_id}/revoke", data=data)
    assert response.status_code == 200
    assert "<h1>Revoke PhotoPrint?</h1>" in response.get_data(as_text=True)
    assert api.get("/photos").status_code == 200
    assert "PhotoPrint" in oauth.http.get("/account/apps").get_data(as_text=True)


@pytest.mark.parametrize("client_id", ["unknown", "x" * 300])
def test_revoking_an_app_you_never_allowed_is_404(
    oauth: OAuthActions, bob: Any, client_id: str
) -> None:
    oauth.sign_in()
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    for confirm in ({}, {"confirm": "yes"}):
        response = oauth.http.post(
            f"/account/apps/{client_id}/revoke",
            data={"csrf_token": csrf_token_from(page), **confirm},
        )
        assert response.status_code == 404
    assert oauth.http.get(f"/account/apps/{client_id}/revoke").status_code == 404


def test_one_users_revoke_leaves_another_users_tokens(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, users: Any, app: Any
) -> None:
    users.create("carol")
    other = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    carol_token = other.tokens_for(conf, username="carol", scope="openid photos.read")
    oauth.tokens_for(conf, scope="openid photos.read")
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    oauth.http.post(
        f"/account/apps/{conf.client_id}/revoke",
        data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
    )
    assert (
        PhotoApi(app.test_client(), carol_token["access_token"]).get("/photos").status_code == 200
    )

"""/account/photos: thumbnails, upload, rename and delete in the browser's session."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.api.conftest import image_bytes
from tests.helpers import AuthActions, csrf_token_from


def upload(client: FlaskClient, data: bytes, title: str = "Beach") -> Any:
    token = csrf_token_from(client.get("/account/photos").get_data(as_text=True))
    form = {"csrf_token": token, "title": title, "photo": (io.BytesIO(data), "beach.png")}
    return client.post("/account/photos", data=form, content_type="multipart/form-data")


def test_upload_shows_a_thumbnail(client: FlaskClient, auth: AuthActions, bob: Any) -> None:
    auth.login()
    response = upload(client, image_bytes("PNG", (800, 600)))
    assert response.status_code == 303
    html = client.get("/account/photos").get_data(as_text=True)
    assert 'alt="Beach"' in html
    thumb_path = html.split('src="', 2)[1].split('"', 1)[0]
    thumb = client.get(thumb_path)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert (
        client.get(thumb_path, headers={"If-None-Match": thumb.headers["ETag"]}).status_code == 304
    )


def test_a_large_photo_passes_the_form_body_limit(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    noisy = Image.frombytes("RGB", (600, 400), os.urandom(600 * 400 * 3))
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > 64 * 1024  # above MAX_CONTENT_LENGTH for ordinary forms
    auth.login()
    assert upload(client, out.getvalue()).status_code == 303


def test_not_an_image_is_refused_on_the_page(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    auth.login()
    response = upload(client, b"<html><script>alert(1)</script></html>")
    assert response.status_code == 415
    assert "The file is not a JPEG, PNG, WebP or GIF image." in response.get_data(as_text=True)
    assert "No photos yet." in client.get("/account/photos").get_data(as_text=True)


def noisy_png(side: int) -> bytes:
    """Random pixels do not compress: about 3 x side^2 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def upload_form_title(html: str) -> str:
    """The value of the upload form's title field ("" when empty)."""
    tag = html.split('class="upload"', 1)[1].split('name="title"', 1)[1].split(">", 1)[0]
    return tag.split('value="', 1)[1].split('"', 1)[0] if 'value="' in tag else ""


SMALL_LIMIT = {"PHOTO_MAX_BYTES": 20_000}


@pytest.mark.parametrize("app_config", [SMALL_LIMIT], indirect=True)
def test_a_photo_over_the_limit_shows_the_form_again_with_the_limit_in_words(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    """The body was read (within the form's allowance), the file is over PHOTO_MAX_BYTES."""
    auth.login()
    data = noisy_png(100)
    assert 20_000 < len(data) < 64 * 1024
    response = upload(client, data, title="Dunes at dusk")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "<h1>My photos</h1>" in html
    size = f"{len(data) / 1000:.1f} kB"
    assert f"The photo is {size}; the limit is 20.0 kB. Choose a smaller photo." in html
    assert upload_form_title(html) == "Dunes at dusk"  # what the user typed is kept
    assert 'name="csrf_token"' in html
    assert "No photos yet." in client.get("/account/photos").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [SMALL_LIMIT], indirect=True)
def test_a_body_refused_unread_shows_the_empty_form_and_says_what_was_refused(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    auth.login()
    data = noisy_png(250)
    assert len(data) > 20_000 + 64 * 1024  # over the body limit of the upload route
    response = upload(client, data, title="Dunes at dusk")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "<h1>My photos</h1>" in html
    assert "The upload is " in html and "; the limit is 20.0 kB for a photo." in html
    assert "refused before it was read" in html
    assert upload_form_title(html) == ""
    assert 'name="csrf_token"' in html and 'type="file"' in html
    assert "No photos yet." in client.get("/account/photos").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [SMALL_LIMIT], indirect=True)
def test_a_refused_body_from_nobody_signed_in_gets_the_plain_413(client: FlaskClient) -> None:
    form = {"title": "x", "photo": (io.BytesIO(b"\0" * 200_000), "big.png")}
    response = client.post("/account/photos", data=form, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "My photos" not in response.get_data(as_text=True)


def test_rename_and_delete(client: FlaskClient, auth: AuthActions, bob: Any) -> None:
    auth.login()
    upload(client, image_bytes())
    html = client.get("/account/photos").get_data(as_text=True)
    rename_action = html.split('class="rename"', 1)[0].rsplit('action="', 1)[1].split('"', 1)[0]
    photo_id = rename_action.split("/")[3]
    token = csrf_token_from(html)
    renamed = client.post(rename_action, data={"csrf_token": token, f"{photo_id}-title": "Dunes"})
    assert renamed.status_code == 303
    assert 'alt="Dunes"' in client.get("/account/photos").get_data(as_text=True)
    deleted = client.post(
        f"/account/photos/{photo_id}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert deleted.status_code == 303
    assert "No photos yet." in client.get("/account/photos").get_data(as_text=True)


def test_another_users_photo_cannot_be_touched(
    client: FlaskClient, auth: AuthActions, users: Any, app: Any
) -> None:
    users.create("alice")
    users.create("bob")
    alice = app.test_client()
    AuthActions(alice).login("alice")
    upload(alice, image_bytes())
    html = alice.get("/account/photos").get_data(as_text=True)
    photo_id = html.split("/account/photos/", 1)[1].split("/", 1)[0]
    auth.login("bob")
    token = csrf_token_from(client.get("/account/photos").get_data(as_text=True))
    assert client.get(f"/account/photos/{photo_id}/thumbnail").status_code == 404
    assert client.get(f"/account/photos/{photo_id}/delete").status_code == 404
    for confirm in ({}, {"confirm": "yes"}):
        deleted = client.post(
            f"/account/photos/{photo_id}/delete", data={"csrf_token": token, **confirm}
        )
        assert deleted.status_code == 404
    assert (
        client.post(f"/account/photos/{photo_id}/rename", data={"csrf_token": token}).status_code
        == 404
    )
    assert "No photos yet." not in alice.get("/account/photos").get_data(as_text=True)


def only_photo_id(client: FlaskClient) -> str:
    html = client.get("/account/photos").get_data(as_text=True)
    return html.split("/account/photos/", 1)[1].split("/", 1)[0]


def test_delete_asks_first_on_a_page_with_a_csrf_protected_form(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    auth.login()
    upload(client, image_bytes(), title="Harbour <b>at</b> dusk")
    photo_id = only_photo_id(client)
    listing = client.get("/account/photos").get_data(as_text=True)
    assert f'href="/account/photos/{photo_id}/delete"' in listing  # a link, not a form

    page = client.get(f"/account/photos/{photo_id}/delete")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Delete “Harbour &lt;b&gt;at&lt;/b&gt; dusk”?</h1>" in html
    form = html.split('<form method="post" action="/account/photos/', 1)[1].split("</form>")[0]
    assert form.startswith(f'{photo_id}/delete"')
    assert 'name="confirm" value="yes"' in form
    assert csrf_token_from(form)
    assert '<a href="/account/photos">Cancel</a>' in form
    assert 'alt="Harbour <b>at</b> dusk"' not in html
    assert "Harbour &lt;b&gt;at&lt;/b&gt; dusk" in client.get("/account/photos").get_data(
        as_text=True
    )  # showing the confirm page deleted nothing

    deleted = client.post(
        f"/account/photos/{photo_id}/delete",
        data={"csrf_token": csrf_token_from(form), "confirm": "yes"},
    )
    assert deleted.status_code == 303
    assert "No photos yet." in client.get("/account/photos").get_data(as_text=True)


@pytest.mark.parametrize("confirm", [None, "", "no", "YES"])
def test_a_delete_post_without_confirmation_shows_the_confirm_page_and_deletes_nothing(
    client: FlaskClient, auth: AuthActions, bob: Any, confirm: str | None
) -> None:
    auth.login()
    upload(client, image_bytes(), title="Harbour")
    photo_id = only_photo_id(client)
    token = csrf_token_from(client.get("/account/photos").get_data(as_text=True))
    data = {"csrf_token": token} | ({} if confirm is None else {"confirm": confirm})
    response = client.post(f"/account/photos/{photo_id}/delete", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Delete “Harbour”?</h1>" in html and 'name="confirm" value="yes"' in html
    assert 'alt="Harbour"' in client.get("/account/photos").get_data(as_text=True)


def test_the_confirmed_delete_still_needs_the_csrf_token(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    auth.login()
    upload(client, image_bytes(), title="Harbour")
    photo_id = only_photo_id(client)
    response = client.post(f"/account/photos/{photo_id}/delete", data={"confirm": "yes"})
    assert response.status_code == 400
    assert 'alt="Harbour"' in client.get("/account/photos").get_data(as_text=True)

"""Every photo route, answering well and refusing well.

Issue 4, Deliver items 1 and 2 (the endpoints, cursor pagination, content served with its
verified type, ``nosniff``, ``Content-Disposition``, ``ETag`` and conditional GET) and
docs/security.md rows API-04 (content served with nosniff, verified type, attachment, sandbox CSP)
and API-07 (delete is complete: content 404, file gone). RFC 9110 §8.8.3 (ETag), §13.1.2
(If-None-Match), §15.4.5 (304); RFC 6266 (Content-Disposition).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

from tests.api.conftest import PhotoApi, image_bytes

PHOTO_FIELDS = {
    "id",
    "title",
    "description",
    "content_type",
    "width",
    "height",
    "bytes",
    "created_at",
    "links",
}


# -- helpers -----------------------------------------------------------------------------------
def body_of(response: TestResponse) -> dict[str, Any]:
    data = response.get_json(silent=True)
    assert isinstance(data, dict), response.get_data(as_text=True)[:300]
    return data


def assert_error(response: TestResponse, status: int, error: str) -> dict[str, Any]:
    """A JSON error with the exact status and code, not a page, not a traceback."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = body_of(response)
    assert body["error"] == error
    assert "Traceback" not in body.get("error_description", "")
    return body


def upload_ok(api: PhotoApi, **kwargs: Any) -> dict[str, Any]:
    response = api.upload(**kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    return body_of(response)


def stored_files(instance_path: Path) -> set[str]:
    """Paths (relative to instance/photos) of every stored file."""
    root = instance_path / "photos"
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- GET /photos: listing and pagination ---------------------------------------------------------
def test_an_empty_album_lists_no_items_and_no_next_cursor(bob_api: PhotoApi) -> None:
    response = bob_api.get("/photos")
    assert response.status_code == 200
    body = body_of(response)
    assert body["items"] == []
    assert body["next_cursor"] is None
    assert body["links"]["next"] is None


def test_listing_pages_through_all_photos_newest_first_with_the_cursor(
    bob_api: PhotoApi,
) -> None:
    uploaded = [upload_ok(bob_api, title=f"photo {n}")["id"] for n in range(5)]
    newest_first = list(reversed(uploaded))

    seen: list[str] = []
    pages = 0
    path = "/photos?limit=2"
    while True:
        response = bob_api.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = body_of(response)
        pages += 1
        assert len(body["items"]) <= 2
        for item in body["items"]:
            assert set(item) == PHOTO_FIELDS
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            assert body["links"]["next"] is None
            break
        assert body["links"]["next"].endswith(f"cursor={body['next_cursor']}")
        path = f"/photos?limit=2&cursor={body['next_cursor']}"
        assert pages < 10, "pagination does not end"
    assert pages == 3
    assert seen == newest_first


def test_the_default_page_holds_all_of_a_few_photos(bob_api: PhotoApi) -> None:
    ids = [upload_ok(bob_api)["id"] for _ in range(3)]
    body = body_of(bob_api.get("/photos"))
    assert [item["id"] for item in body["items"]] == list(reversed(ids))
    assert body["next_cursor"] is None


def test_a_page_exactly_filled_has_no_next_cursor(bob_api: PhotoApi) -> None:
    for _ in range(2):
        upload_ok(bob_api)
    body = body_of(bob_api.get("/photos?limit=2"))
    assert len(body["items"]) == 2
    assert body["next_cursor"] is None


def test_limits_of_one_and_a_hundred_are_accepted(bob_api: PhotoApi) -> None:
    upload_ok(bob_api)
    upload_ok(bob_api)
    one = body_of(bob_api.get("/photos?limit=1"))
    assert len(one["items"]) == 1 and one["next_cursor"] is not None
    hundred = body_of(bob_api.get("/photos?limit=100"))
    assert len(hundred["items"]) == 2 and hundred["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "99999999999999999999"])
def test_a_limit_outside_one_to_a_hundred_is_invalid_request(bob_api: PhotoApi, limit: str) -> None:
    assert_error(bob_api.get(f"/photos?limit={limit}"), 400, "invalid_request")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage!!", id="not-base64"),
        pytest.param(b64(b"no separator here"), id="no-separator"),
        pytest.param(b64(b"not-a-date|abc"), id="bad-date"),
        pytest.param(b64(b"\xff\xfe\xfd|abc"), id="invalid-utf8"),
        pytest.param(b64(b"2024-01-01T00:00:00|abc"), id="forged-naive-timestamp"),
        pytest.param("A" * 201, id="too-long"),
    ],
)
def test_a_cursor_the_api_never_gave_out_is_invalid_request(bob_api: PhotoApi, cursor: str) -> None:
    upload_ok(bob_api)
    assert_error(bob_api.get(f"/photos?cursor={cursor}"), 400, "invalid_request")


def test_the_listing_shows_only_the_token_owners_photos(
    bob_api: PhotoApi, alice_api: PhotoApi
) -> None:
    mine = upload_ok(bob_api)["id"]
    upload_ok(alice_api)
    assert [item["id"] for item in body_of(bob_api.get("/photos"))["items"]] == [mine]


# -- POST /photos --------------------------------------------------------------------------------
def test_an_upload_answers_201_with_location_and_the_photo_json(
    app: Flask, bob_api: PhotoApi
) -> None:
    response = bob_api.upload(
        image_bytes("JPEG", (40, 30)), filename="beach.jpg", content_type="image/jpeg",
        title="Beach", description="At dawn",
    )  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = body_of(response)
    assert set(photo) == PHOTO_FIELDS
    base = app.config["OAUTH_ISSUER"] + "/api/v1/photos/"
    assert response.headers["Location"] == base + photo["id"]
    assert photo["links"] == {
        "self": base + photo["id"],
        "content": base + photo["id"] + "/content",
    }
    assert photo["title"] == "Beach"
    assert photo["description"] == "At dawn"
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 40, 30)
    assert isinstance(photo["bytes"], int) and photo["bytes"] > 0
    assert isinstance(photo["created_at"], str) and photo["created_at"][:2] == "20"
    assert body_of(bob_api.get(f"/photos/{photo['id']}")) == photo


def test_title_and_description_default_to_empty(bob_api: PhotoApi) -> None:
    photo = upload_ok(bob_api)
    assert (photo["title"], photo["description"]) == ("", "")


@pytest.mark.parametrize(
    ("field", "length"), [("title", 201), ("description", 2001)], ids=["title", "description"]
)
def test_an_upload_with_too_long_text_is_invalid_request_and_stores_nothing(
    bob_api: PhotoApi, instance_path: Path, field: str, length: int
) -> None:
    fields: dict[str, Any] = {field: "x" * length}
    response = bob_api.upload(None, **fields)
    assert_error(response, 400, "invalid_request")
    assert body_of(bob_api.get("/photos"))["items"] == []
    assert stored_files(instance_path) == set()


# -- GET /photos/<id> ----------------------------------------------------------------------------
@pytest.mark.parametrize("photo_id", ["nope", "A" * 32, "A" * 33, "x" * 500])
def test_an_unknown_photo_is_not_found(bob_api: PhotoApi, photo_id: str) -> None:
    assert_error(bob_api.get(f"/photos/{photo_id}"), 404, "not_found")
    assert_error(bob_api.get(f"/photos/{photo_id}/content"), 404, "not_found")
    assert_error(bob_api.patch(photo_id, {"title": "t"}), 404, "not_found")
    assert_error(bob_api.delete(photo_id), 404, "not_found")


# -- PATCH /photos/<id> --------------------------------------------------------------------------
def test_patch_changes_only_the_fields_sent(bob_api: PhotoApi) -> None:
    photo = upload_ok(bob_api, title="Old", description="Kept")
    response = bob_api.patch(photo["id"], {"title": "New"})
    assert response.status_code == 200
    assert body_of(response)["title"] == "New"
    assert body_of(response)["description"] == "Kept"
    response = bob_api.patch(photo["id"], {"description": ""})
    assert (body_of(response)["title"], body_of(response)["description"]) == ("New", "")
    assert body_of(bob_api.get(f"/photos/{photo['id']}"))["title"] == "New"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"title": "ok", "owner_id": 2}, id="unknown-field"),
        pytest.param({"content_type": "text/html"}, id="read-only-field"),
        pytest.param({"title": "x" * 201}, id="title-too-long"),
        pytest.param({"description": "x" * 2001}, id="description-too-long"),
        pytest.param({"title": 5}, id="title-not-a-string"),
        pytest.param({"title": None}, id="title-null"),
        pytest.param(["title", "x"], id="json-array"),
        pytest.param("a title", id="json-string"),
    ],
)
def test_patch_with_a_bad_body_is_invalid_request_and_changes_nothing(
    bob_api: PhotoApi, body: Any
) -> None:
    photo = upload_ok(bob_api, title="Same", description="Same too")
    assert_error(bob_api.patch(photo["id"], body), 400, "invalid_request")
    assert body_of(bob_api.get(f"/photos/{photo['id']}")) == photo


def test_patch_with_malformed_json_is_invalid_request(bob_api: PhotoApi) -> None:
    photo = upload_ok(bob_api, title="Same")
    response = bob_api.http.patch(
        f"/api/v1/photos/{photo['id']}",
        data="{not json",
        content_type="application/json",
        headers=bob_api.headers(),
    )
    assert_error(response, 400, "invalid_request")
    assert body_of(bob_api.get(f"/photos/{photo['id']}"))["title"] == "Same"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("title=New", "application/x-www-form-urlencoded"),
        ('{"title": "New"}', "text/plain"),
        ("<title>New</title>", "application/xml"),
    ],
    ids=["form", "text", "xml"],
)
def test_patch_with_a_non_json_body_is_unsupported_media_type(
    bob_api: PhotoApi, data: str, content_type: str
) -> None:
    photo = upload_ok(bob_api, title="Same")
    response = bob_api.http.patch(
        f"/api/v1/photos/{photo['id']}",
        data=data,
        content_type=content_type,
        headers=bob_api.headers(),
    )
    assert_error(response, 415, "unsupported_media_type")
    assert body_of(bob_api.get(f"/photos/{photo['id']}"))["title"] == "Same"


# -- DELETE /photos/<id> -------------------------------------------------------------------------
def test_delete_answers_204_then_the_photo_and_its_file_are_gone(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    before = stored_files(instance_path)
    keep = upload_ok(bob_api)["id"]
    photo_id = upload_ok(bob_api)["id"]
    photo_file = instance_path / "photos" / photo_id[:2] / photo_id
    assert photo_file.is_file()

    response = bob_api.delete(photo_id)
    assert response.status_code == 204
    assert response.get_data() == b""

    assert not photo_file.exists()
    assert stored_files(instance_path) == before | {f"{keep[:2]}/{keep}"}
    assert_error(bob_api.get(f"/photos/{photo_id}/content"), 404, "not_found")
    assert_error(bob_api.get(f"/photos/{photo_id}"), 404, "not_found")
    assert [item["id"] for item in body_of(bob_api.get("/photos"))["items"]] == [keep]
    assert_error(bob_api.delete(photo_id), 404, "not_found")
    assert bob_api.get(f"/photos/{keep}/content").status_code == 200


# -- GET /photos/<id>/content --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "claimed_name", "claimed_type", "served_type", "extension"),
    [
        ("PNG", "photo.jpg", "image/jpeg", "image/png", "png"),
        ("JPEG", "photo.png", "image/png", "image/jpeg", "jpg"),
        ("WEBP", "photo.html", "text/html", "image/webp", "webp"),
        ("GIF", "photo", "application/octet-stream", "image/gif", "gif"),
    ],
)
def test_content_is_served_with_its_verified_type_as_an_attachment(
    bob_api: PhotoApi,
    fmt: str,
    claimed_name: str,
    claimed_type: str,
    served_type: str,
    extension: str,
) -> None:
    photo = upload_ok(
        bob_api, data=image_bytes(fmt), filename=claimed_name, content_type=claimed_type
    )
    assert photo["content_type"] == served_type
    response = bob_api.get(f"/photos/{photo['id']}/content")
    assert response.status_code == 200
    assert response.mimetype == served_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert (kind, options) == ("attachment", {"filename": f"{photo['id']}.{extension}"})
    assert "sandbox" in response.headers["Content-Security-Policy"]
    data = response.get_data()
    assert len(data) == photo["bytes"]
    assert response.headers["Content-Length"] == str(len(data))


def test_content_has_a_strong_etag_and_if_none_match_gives_304(bob_api: PhotoApi) -> None:
    photo_id = upload_ok(bob_api)["id"]
    path = f"/photos/{photo_id}/content"
    first = bob_api.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(first.get_data()).hexdigest()

    again = bob_api.get(path, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag

    assert bob_api.get(path, **{"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert bob_api.get(path, **{"If-None-Match": "*"}).status_code == 304
    changed = bob_api.get(path, **{"If-None-Match": '"not-the-etag"'})
    assert changed.status_code == 200
    assert changed.get_data() == first.get_data()


def test_distinct_images_have_distinct_etags(bob_api: PhotoApi) -> None:
    red = upload_ok(bob_api, data=image_bytes(color="red"))["id"]
    blue = upload_ok(bob_api, data=image_bytes(color="blue"))["id"]
    red_tag = bob_api.get(f"/photos/{red}/content").headers["ETag"]
    blue_tag = bob_api.get(f"/photos/{blue}/content").headers["ETag"]
    assert red_tag != blue_tag
    assert bob_api.get(f"/photos/{blue}/content", **{"If-None-Match": red_tag}).status_code == 200


def test_content_is_not_cached_by_shared_caches(bob_api: PhotoApi) -> None:
    photo_id = upload_ok(bob_api)["id"]
    cache_control = bob_api.get(f"/photos/{photo_id}/content").headers["Cache-Control"]
    assert "private" in cache_control or "no-store" in cache_control
    assert "public" not in cache_control


def test_json_responses_carry_nosniff(bob_api: PhotoApi) -> None:
    upload_ok(bob_api)
    response = bob_api.get("/photos")
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_photo_whose_file_vanished_is_not_found_not_a_server_error(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    photo_id = upload_ok(bob_api)["id"]
    (instance_path / "photos" / photo_id[:2] / photo_id).unlink()
    assert_error(bob_api.get(f"/photos/{photo_id}/content"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/photos"), ("delete", "/photos"), ("post", "/photos/abc"), ("put", "/photos/abc")],
)
def test_a_method_a_route_does_not_have_is_405_json(
    bob_api: PhotoApi, method: str, path: str
) -> None:
    response = getattr(bob_api.http, method)(f"/api/v1{path}", headers=bob_api.headers())
    assert_error(response, 405, "method_not_allowed")
    assert "Allow" in response.headers

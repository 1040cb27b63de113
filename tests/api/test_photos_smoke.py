"""A client lists, uploads, reads, renames and deletes photos for its user."""

from __future__ import annotations

from tests.api.conftest import PhotoApi, image_bytes


def test_upload_list_read_rename_download_delete(bob_api: PhotoApi) -> None:
    created = bob_api.upload(image_bytes("JPEG", (64, 48)), filename="holiday.jpg", title="Beach")
    assert created.status_code == 201, created.get_data(as_text=True)
    photo = created.json
    assert photo is not None
    assert created.headers["Location"] == photo["links"]["self"]
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 64, 48)

    listed = bob_api.get("/photos")
    assert [item["id"] for item in listed.json["items"]] == [photo["id"]]  # type: ignore[index]

    renamed = bob_api.patch(photo["id"], {"title": "Beach at dawn"})
    assert renamed.status_code == 200 and renamed.json["title"] == "Beach at dawn"  # type: ignore[index]

    content = bob_api.get(f"/photos/{photo['id']}/content")
    assert content.status_code == 200
    assert content.mimetype == "image/jpeg"
    etag = content.headers["ETag"]
    assert (
        bob_api.get(f"/photos/{photo['id']}/content", **{"If-None-Match": etag}).status_code == 304
    )

    assert bob_api.delete(photo["id"]).status_code == 204
    assert bob_api.get(f"/photos/{photo['id']}").status_code == 404


def test_another_users_photo_is_not_found(bob_api: PhotoApi, alice_api: PhotoApi) -> None:
    photo_id = alice_api.upload().json["id"]  # type: ignore[index]
    for response in (
        bob_api.get(f"/photos/{photo_id}"),
        bob_api.get(f"/photos/{photo_id}/content"),
        bob_api.patch(photo_id, {"title": "mine now"}),
        bob_api.delete(photo_id),
    ):
        assert response.status_code == 404
    assert alice_api.get(f"/photos/{photo_id}").status_code == 200

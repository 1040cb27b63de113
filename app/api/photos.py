"""The photo API (/api/v1/photos): thin views over ``services.photos``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError

from app.api import operations as ops
from app.api.auth import Caller, api_operation
from app.api.schemas import (
    ListQuerySchema,
    PhotoUpdateSchema,
    UploadFormSchema,
    first_error,
    photo_json,
)
from app.config import API_PATH
from app.errors import TesseraError, ValidationError
from app.models import Photo
from app.route_policy import csrf_exempt, declare, json_errors, no_rate_limit, rate_limited
from app.services import photos
from app.settings import settings
from app.upload_limits import hit as count_upload

bp = declare(
    Blueprint("api", __name__, url_prefix=API_PATH),
    json_errors,
    csrf_exempt("bearer tokens, never cookies"),
    no_rate_limit("a user's own photos, through a token; each call is counted in API usage"),
)
LIST_QUERY = ListQuerySchema()  # marshmallow schemas hold no per-call state; build once
FIRST_PAGE_QUERY = LIST_QUERY.load({})  # a listing without parameters skips marshmallow


def _base() -> str:
    return str(settings().oauth_issuer) + API_PATH


def _load(schema: Any, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except SchemaError as exc:
        raise ValidationError(first_error(exc.messages)) from exc
    return loaded


def _json_object() -> dict[str, Any]:
    """The request's JSON object; unreadable JSON (bad syntax, 10,000-deep nesting) is a 400."""
    if not request.is_json:
        raise TesseraError("Send a JSON body.", error="unsupported_media_type", status=415)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the json module's own depth limit; silent=True does not catch it
        body = None
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.")
    return body


def _owned(caller: Caller, photo_id: str) -> Photo:
    photo = photos.get_for_owner(photo_id, caller.user_id)
    if photo is None:
        raise TesseraError("No such photo.", error="not_found", status=404)
    return photo


@bp.get("/photos")
@api_operation(ops.LIST)
def list_photos(caller: Caller) -> ResponseReturnValue:
    """List your photos, newest first (cursor pagination)."""
    query = _load(LIST_QUERY, request.args.to_dict()) if request.args else FIRST_PAGE_QUERY
    page = photos.list_for_owner(caller.user_id, query["limit"], query["cursor"])
    base = _base()
    self_url = f"{base}/photos?limit={query['limit']}"
    body = {
        "items": [photo_json(photo, base) for photo in page.photos],
        "next_cursor": page.next_cursor,
        "links": {
            "self": self_url + (f"&cursor={query['cursor']}" if query["cursor"] else ""),
            "next": f"{self_url}&cursor={page.next_cursor}" if page.next_cursor else None,
        },
    }
    return jsonify(body)


@bp.post("/photos")
@rate_limited("PHOTO_UPLOAD_LIMIT_PER_CLIENT, counted in the view (upload_limits.hit)")
@api_operation(ops.UPLOAD)
def upload_photo(caller: Caller) -> ResponseReturnValue:
    """Upload an image in the multipart field ``file`` (optional ``title``, ``description``).

    413 ``quota_exceeded`` (with used_bytes, quota_bytes, upload_bytes) when it does not fit
    the user's storage quota; 429 past PHOTO_UPLOAD_LIMIT_PER_CLIENT for the token's client.
    """
    count_upload("PHOTO_UPLOAD_LIMIT_PER_CLIENT", "photo-upload-client", caller.client_id)
    limit = int(settings().photo_max_bytes)  # the body limit is raised in create_app
    if request.mimetype != "multipart/form-data":
        raise TesseraError(
            "Send the photo as multipart/form-data.", error="unsupported_media_type", status=415
        )
    upload = request.files.get("file")
    if upload is None or len(request.files.getlist("file")) != 1:
        raise ValidationError("file: send exactly one image in the 'file' field")
    form = _load(UploadFormSchema(), request.form.to_dict())
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise TesseraError(
            f"Photos may be at most {limit} bytes.", error="request_too_large", status=413
        )
    photo = photos.store_upload(caller.user_id, raw, form["title"], form["description"])
    response = jsonify(photo_json(photo, _base()))
    response.status_code = 201
    response.headers["Location"] = f"{_base()}/photos/{photo.id}"
    return response


@bp.get("/photos/<photo_id>")
@api_operation(ops.GET)
def get_photo(caller: Caller, photo_id: str) -> ResponseReturnValue:
    """Read a photo's details."""
    return jsonify(photo_json(_owned(caller, photo_id), _base()))


@bp.patch("/photos/<photo_id>")
@api_operation(ops.UPDATE)
def update_photo(caller: Caller, photo_id: str) -> ResponseReturnValue:
    """Change a photo's title or description (JSON body)."""
    photo = _owned(caller, photo_id)
    changes = _load(PhotoUpdateSchema(), _json_object())
    photos.update(photo, changes.get("title"), changes.get("description"))
    return jsonify(photo_json(photo, _base()))


@bp.delete("/photos/<photo_id>")
@api_operation(ops.DELETE)
def delete_photo(caller: Caller, photo_id: str) -> ResponseReturnValue:
    """Delete a photo and its file."""
    photos.delete(_owned(caller, photo_id))
    return "", 204


@bp.get("/photos/<photo_id>/content")
@api_operation(ops.CONTENT)
def photo_content(caller: Caller, photo_id: str) -> ResponseReturnValue:
    """The image bytes, with their verified type, an ETag and conditional GET."""
    photo = _owned(caller, photo_id)
    path = photos.file_path(photo.id)
    if not path.exists():
        current_app.logger.error("photo %s has no file", photo.id)
        raise TesseraError("The photo's content is missing.", error="not_found", status=404)
    response = send_file(
        path,
        mimetype=photo.content_type,
        as_attachment=True,
        download_name=f"{photo.id}.{photo.extension}",
        etag=photo.sha256,
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response

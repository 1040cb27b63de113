"""/account/photos: the user's photos in a browser, through the same services as the API."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.account.forms import RenamePhotoForm, UploadPhotoForm
from app.errors import TesseraError, http_exception_response
from app.models import Photo
from app.route_policy import csrf_protected, declare, html_errors, no_rate_limit, rate_limited
from app.services import images, photos, quotas
from app.settings import settings
from app.upload_limits import hit as count_upload

bp = declare(
    Blueprint("my_photos", __name__, url_prefix="/account"),
    html_errors,
    csrf_protected,
    no_rate_limit("a signed-in user's own photos"),
)
PAGE_SIZE = 100


def _own(photo_id: str) -> Photo:
    photo = photos.get_for_owner(photo_id, current_user.id)
    if photo is None:
        abort(404, "No such photo.")
    return photo


def _page(
    upload: UploadPhotoForm | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    page = photos.list_for_owner(current_user.id, PAGE_SIZE)
    usage = quotas.usage(current_user.id)
    html = render_template(
        "account/photos.html",
        photos=page.photos,
        upload=upload or UploadPhotoForm(),
        rename=RenamePhotoForm,
        error=error,
        used=quotas.format_bytes(usage.used),
        quota=quotas.format_bytes(usage.quota),
    )
    return html, status


@bp.get("/photos")
@login_required  # type: ignore[untyped-decorator]
def list_photos() -> ResponseReturnValue:
    """Your photos as thumbnails, with upload, rename and delete."""
    return _page()


@bp.post("/photos")
@rate_limited("PHOTO_UPLOAD_LIMIT_PER_USER, counted in the view (upload_limits.hit)")
@login_required  # type: ignore[untyped-decorator]
def upload() -> ResponseReturnValue:
    """Upload a photo (the same checks as the API: decoded, size and pixel limits)."""
    form = UploadPhotoForm()
    if not form.validate_on_submit():
        return _page(form, "Choose a photo to upload.", 400)
    limit = settings().photo_max_bytes  # the body may be a little larger: see _body_refused
    raw = form.photo.data.read()
    if len(raw) > limit:
        message = (
            f"The photo is {quotas.format_bytes(len(raw))}; "
            f"the limit is {quotas.format_bytes(limit)}. Choose a smaller photo."
        )
        return _page(form, message, 413)
    try:
        count_upload("PHOTO_UPLOAD_LIMIT_PER_USER", "photo-upload-user", str(current_user.id))
        photos.store_upload(current_user.id, raw, form.title.data or "")
    except quotas.QuotaExceeded as exc:
        message = (
            f"This photo ({exc.size:,} bytes) does not fit your storage quota: "
            f"{exc.used:,} of {exc.quota:,} bytes are used."
        )
        return _page(form, message, exc.status)
    except TesseraError as exc:
        return _page(form, exc.description, exc.status)
    return redirect("/account/photos", code=303)


@bp.errorhandler(RequestEntityTooLarge)
def _body_refused(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload whose body is over the limit is refused unread (by the CSRF check, which
    parses the form first): show My photos again, saying what was refused, instead of a bare
    413 page. The form comes back empty, since none of it was read."""
    if request.endpoint != "my_photos.upload" or not current_user.is_authenticated:
        return http_exception_response(exc)
    limit = quotas.format_bytes(settings().photo_max_bytes)
    size = request.content_length
    refused = f"The upload is {quotas.format_bytes(size)}" if size else "The upload is too large"
    message = (
        f"{refused}; the limit is {limit} for a photo. It was refused before it was read: "
        "choose a smaller photo and fill in the form again."
    )
    return _page(UploadPhotoForm(formdata=None), message, 413)


@bp.post("/photos/<photo_id>/rename")
@login_required  # type: ignore[untyped-decorator]
def rename(photo_id: str) -> ResponseReturnValue:
    """Give a photo a new title."""
    photo = _own(photo_id)
    form = RenamePhotoForm(prefix=photo.id)
    if not form.validate_on_submit():
        return _page(error="A title has at most 200 characters.", status=400)
    photos.update(photo, form.title.data or "", None)
    return redirect("/account/photos", code=303)


def _confirm_delete_page(photo: Photo) -> ResponseReturnValue:
    name = f"“{photo.title}”" if photo.title else "this untitled photo"
    return render_template(
        "account/confirm.html",
        question=f"Delete {name}?",
        consequences=["The photo and its file are removed; this cannot be undone."],
        action=url_for("my_photos.delete", photo_id=photo.id),
        verb="Delete",
        cancel=url_for("my_photos.list_photos"),
    )


@bp.get("/photos/<photo_id>/delete")
@login_required  # type: ignore[untyped-decorator]
def confirm_delete(photo_id: str) -> ResponseReturnValue:
    """Ask before deleting: "Delete <title>?" with a Delete button (a POST form) and Cancel."""
    return _confirm_delete_page(_own(photo_id))


@bp.post("/photos/<photo_id>/delete")
@login_required  # type: ignore[untyped-decorator]
def delete(photo_id: str) -> ResponseReturnValue:
    """Delete a photo and its file, once confirmed (``confirm=yes``, sent by the confirm page);
    without it, the confirm page."""
    photo = _own(photo_id)
    if request.form.get("confirm") != "yes":
        return _confirm_delete_page(photo)
    photos.delete(photo)
    return redirect("/account/photos", code=303)


@bp.get("/photos/<photo_id>/thumbnail")
@login_required  # type: ignore[untyped-decorator]
def thumbnail(photo_id: str) -> ResponseReturnValue:
    """A small JPEG of one of your photos, with an ETag (304 when unchanged)."""
    photo = _own(photo_id)
    etag = hashlib.sha256(f"{photo.sha256}-thumb".encode()).hexdigest()
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    data = images.thumbnail(photos.file_path(photo.id).read_bytes())
    response = Response(data, mimetype="image/jpeg")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response

"""The photo store: rows in ``photos``, bytes under instance/photos/ by server-made id.

Writes go to a temporary file, are flushed to disk and renamed into place before the row is
committed, so a row never points at a missing or half-written file. A crash between the
rename and the commit can leave a file without a row; ``remove_orphan_files`` (the
``photos clean`` command) deletes those.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select

from app.errors import ValidationError
from app.extensions import db
from app.models import Photo
from app.models.types import utcnow
from app.security import new_token
from app.services import quotas, sql
from app.services.images import clean_image
from app.settings import settings

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
ORPHAN_GRACE_SECONDS = 3600


# What a listing shows. Selected as plain rows (attribute access like a Photo): loading 20
# ORM objects cost about a third of the API listing's time.
class ListedPhoto(NamedTuple):
    id: str
    title: str
    description: str
    content_type: str
    width: int
    height: int
    bytes: int
    created_at: datetime


LISTED_COLUMNS = (
    Photo.id,
    Photo.title,
    Photo.description,
    Photo.content_type,
    Photo.width,
    Photo.height,
    Photo.bytes,
    Photo.created_at,
)


@dataclass(frozen=True)
class Page:
    photos: Sequence[ListedPhoto]
    next_cursor: str | None


def store_root() -> Path:
    return Path(current_app.instance_path) / "photos"


def file_path(photo_id: str) -> Path:
    return store_root() / photo_id[:2] / photo_id


def store_upload(owner_id: int, raw: bytes, title: str = "", description: str = "") -> Photo:
    """Verify, clean and store an uploaded image for ``owner_id``, within their quota.

    The quota is checked on the cleaned bytes (what is stored), in the transaction that
    inserts the row and before the file is written: a refused upload leaves no row, no file.
    """
    _check_text(title, description)
    config = settings()
    image = clean_image(raw, max_pixels=config.photo_max_pixels, strip_gps=config.photo_strip_gps)
    photo = Photo(
        id=new_token(16),
        owner_id=owner_id,
        title=title,
        description=description,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        bytes=len(image.data),
        sha256=hashlib.sha256(image.data).hexdigest(),
        created_at=utcnow(),
    )
    path = file_path(photo.id)
    try:
        quotas.reserve(owner_id, photo.bytes)
        _write_atomically(path, image.data)
        db.session.add(photo)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return photo


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{path.name}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def get_for_owner(photo_id: str, owner_id: int) -> Photo | None:
    """The photo if it exists and belongs to ``owner_id``; anyone else's is None (a 404)."""
    if not photo_id or len(photo_id) > 32:
        return None
    photo = db.session.get(Photo, photo_id)
    return photo if photo is not None and photo.owner_id == owner_id else None


_NEWEST_FIRST = (
    select(*LISTED_COLUMNS)
    .where(Photo.owner_id == bindparam("owner_id"))
    .order_by(Photo.created_at.desc(), Photo.id.desc())
    .limit(bindparam("limit"))
)
_AFTER_CURSOR = _NEWEST_FIRST.where(
    or_(
        Photo.created_at < bindparam("created_at"),
        and_(Photo.created_at == bindparam("created_at"), Photo.id < bindparam("photo_id")),
    )
)
_FIRST_PAGE = sql.Statement(_NEWEST_FIRST)
_NEXT_PAGE = sql.Statement(_AFTER_CURSOR)


def list_for_owner(owner_id: int, limit: int, cursor: str | None = None) -> Page:
    """Newest first; ``cursor`` is the opaque position after the previous page.

    One prebuilt statement on a hot-read connection (no ORM session, no per-call compile).
    """
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit + 1}
    statement = _FIRST_PAGE
    if cursor:
        params["created_at"], params["photo_id"] = _decode_cursor(cursor)
        statement = _NEXT_PAGE
    rows = [ListedPhoto._make(row) for row in sql.fetch_all(statement, params)]
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], _encode_cursor(last))


def update(photo: Photo, title: str | None, description: str | None) -> Photo:
    _check_text(title or "", description or "")
    if title is not None:
        photo.title = title
    if description is not None:
        photo.description = description
    db.session.commit()
    return photo


def delete(photo: Photo) -> None:
    """Delete the row, then the file (a crash in between leaves an orphan file, not a row)."""
    path = file_path(photo.id)
    db.session.delete(photo)
    db.session.commit()
    path.unlink(missing_ok=True)


def remove_orphan_files(grace_seconds: int = ORPHAN_GRACE_SECONDS) -> int:
    """Delete stored files with no row (and stale temporary files) older than the grace."""
    root = store_root()
    if not root.exists():
        return 0
    cutoff = time.time() - grace_seconds
    removed = 0
    for path in root.glob("*/*"):
        if path.stat().st_mtime > cutoff:
            continue
        photo_id = path.name.removeprefix(".tmp-")
        if path.name.startswith(".tmp-") or db.session.get(Photo, photo_id) is None:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _check_text(title: str, description: str) -> None:
    if len(title) > TITLE_MAX:
        raise ValidationError(f"title: at most {TITLE_MAX} characters")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(f"description: at most {DESCRIPTION_MAX} characters")
    for name, text in (("title", title), ("description", description)):
        if not _is_unicode(text):  # JSON "\ud800" decodes to a lone surrogate; no database takes it
            raise ValidationError(f"{name}: must be Unicode text (no lone surrogates)")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encode_cursor(photo: Any) -> str:
    raw = f"{photo.created_at.isoformat()}|{photo.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, photo_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        position = datetime.fromisoformat(created)
        if position.tzinfo is None:
            raise ValueError("cursor time without a zone")
        return position, photo_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("cursor: not a cursor this API gave out") from exc

"""Per-user photo storage quotas: how many bytes a user stores, and may store.

Usage is the sum of ``photos.bytes`` (the size of each stored file). An upload reserves its
bytes with :func:`reserve` inside the transaction that inserts the row, after taking the
user's row lock, so two parallel uploads that each fit alone cannot both pass when only one
fits: on PostgreSQL ``SELECT ... FOR UPDATE`` on the user row makes the second upload wait
for the first to commit (READ COMMITTED then sees its row in the sum); on SQLite a no-op
``UPDATE`` of the user row takes the database's single write lock before the sum is read
(the driver opens the transaction at that statement; a second writer waits up to
SQLITE_BUSY_TIMEOUT_MS).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from app.errors import TesseraError, ValidationError
from app.extensions import db
from app.models import Photo, User
from app.services import audit
from app.settings import settings


class QuotaExceeded(TesseraError):
    """413: the upload would take the user past their storage quota."""

    status = 413
    error = "quota_exceeded"

    def __init__(self, used: int, quota: int, size: int) -> None:
        super().__init__(
            f"This photo ({size} bytes) does not fit: {used} of {quota} bytes are used."
        )
        self.used, self.quota, self.size = used, quota, size

    def details(self) -> dict[str, int | str]:
        return {"used_bytes": self.used, "quota_bytes": self.quota, "upload_bytes": self.size}


@dataclass(frozen=True)
class Usage:
    used: int
    quota: int


def default_quota() -> int:
    return int(settings().photo_storage_quota)


def quota_of(user: User | None) -> int:
    """The user's own quota when an admin set one, else the PHOTO_STORAGE_QUOTA setting."""
    if user is not None and user.storage_quota_bytes is not None:
        return int(user.storage_quota_bytes)
    return default_quota()


def used_bytes(owner_id: int) -> int:
    total = db.session.scalar(
        select(func.coalesce(func.sum(Photo.bytes), 0)).where(Photo.owner_id == owner_id)
    )
    return int(total or 0)


def usage(owner_id: int) -> Usage:
    return Usage(used_bytes(owner_id), quota_of(db.session.get(User, owner_id)))


def reserve(owner_id: int, size: int) -> None:
    """Lock the owner's row, then raise QuotaExceeded unless ``size`` more bytes fit.

    Call inside the transaction that inserts the photo; the lock is held until it ends.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        statement = select(User.storage_quota_bytes).where(User.id == owner_id).with_for_update()
        override = db.session.execute(statement).scalar_one_or_none()
    else:
        lock = update(User).where(User.id == owner_id)
        db.session.execute(lock.values(storage_quota_bytes=User.storage_quota_bytes))
        override = db.session.scalar(select(User.storage_quota_bytes).where(User.id == owner_id))
    quota = default_quota() if override is None else int(override)
    used = used_bytes(owner_id)
    if used + size > quota:
        raise QuotaExceeded(used, quota, size)


def parse_quota(text: str) -> int | None:
    """Bytes as digits, or "default"/"" for None; ValidationError otherwise."""
    text = text.strip()
    if text.lower() in ("", "default"):
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ValidationError("storage quota: a number of bytes, or 'default'")
    return int(text)


def set_quota(user: User, quota: int | None, *, actor_id: int | None = None) -> None:
    """An admin's override: bytes, or None to follow the PHOTO_STORAGE_QUOTA setting.

    Photos already stored stay; a lowered quota only refuses further uploads.
    """
    if quota is not None and quota < 0:
        raise ValidationError("storage quota: a number of bytes, 0 or more")
    user.storage_quota_bytes = quota
    detail = "default" if quota is None else f"{quota} bytes"
    audit.record("user.quota_changed", user_id=user.id, actor_id=actor_id, detail=detail)
    db.session.commit()


def format_bytes(count: int) -> str:
    """12.3 MB, 1 GiB: decimal units below a binary round number, binary when exact."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"

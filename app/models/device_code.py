"""Device authorizations (RFC 8628 §3.2): a device code for the client, a user code for people.

Both codes are stored as SHA-256 digests. A row moves pending → approved | denied, and
approved → redeemed exactly once; ``interval`` grows by 5 s on each ``slow_down`` (§3.5).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow

STATUS_PENDING = "pending"
STATUS_APPROVED = "approved"
STATUS_DENIED = "denied"
STATUS_REDEEMED = "redeemed"


class DeviceCode(Base):
    __tablename__ = "device_codes"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The normalised user code (e.g. "WDJBMJHT"), hashed: it is looked up, never shown again.
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(1000), default="")
    # RFC 8707 resource indicators asked for, space-separated; None: the default resource.
    resource: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=STATUS_PENDING)
    user_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    # The authorization the approval created; the tokens are issued under it.
    authorization_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("authorizations.id", ondelete="CASCADE")
    )
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    interval: Mapped[int] = mapped_column(Integer)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

"""Server-side record of a browser sign-in.

The browser's signed cookie carries only a random token; this row, keyed by the token's
SHA-256, is what makes it valid. Deleting the row (sign-out, user disabled) ends the
sign-in even for someone holding a copy of the cookie.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class LoginSession(Base):
    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # When the user proved who they are: OpenID Connect's auth_time.
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship(lazy="joined")

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

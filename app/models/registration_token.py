"""Initial access tokens for dynamic client registration (RFC 7591 §3, "initial access token").

Only the SHA-256 digest is stored. Each registration spends one use with an atomic
``UPDATE ... WHERE uses_left > 0``, so the count holds across workers and hosts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow


class RegistrationToken(Base):
    __tablename__ = "registration_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    uses_left: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_usable(self, now: datetime) -> bool:
        return self.uses_left > 0 and now < self.expires_at

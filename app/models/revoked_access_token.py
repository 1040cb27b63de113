"""Access tokens revoked one by one at /revoke, kept until they would have expired.

Access tokens are self-contained JWTs and are not stored; this short deny-list (by ``jti``)
is what makes an individual revocation take effect before ``exp``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime


class RevokedAccessToken(Base):
    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

"""What a user has allowed a client, remembered so the consent page is asked once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow
from app.scopes import includes


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(1000))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # ``Client.redirect_uris_digest`` when consent was given: consent stays with the hosts it
    # was given for, and a change of redirect URIs asks again (docs/security.md NA-02).
    redirect_uris_digest: Mapped[str | None] = mapped_column(String(64))

    def covers(self, scope: str, redirect_uris_digest: str) -> bool:
        return self.redirect_uris_digest == redirect_uris_digest and includes(self.scope, scope)

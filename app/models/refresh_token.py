"""Refresh tokens: opaque, stored as SHA-256, rotated on every use (RFC 9700 §4.14.2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    authorization_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("authorizations.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    # What this token may ask for: never more than the authorization's scope.
    scope: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when exchanged for a successor; a second use is reuse and revokes the authorization.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # RFC 9449 §5: a public client's refresh token is bound to its DPoP key (JWK thumbprint).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    # authlib TokenMixin hooks used by the refresh_token grant
    def check_client(self, client: object) -> bool:
        return self.client_id == getattr(client, "client_id", None)

    def get_scope(self) -> str:
        return self.scope

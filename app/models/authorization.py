"""An authorization: what a user (or, for client_credentials, the client itself) gave one client.

Every token points at an authorization. Revoking the authorization (consent withdrawn,
refresh-token reuse, authorization-code replay, user disabled, client deleted) ends all of its
tokens at once:
the resource server checks ``revoked_at`` on every call.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow

KIND_AUTHORIZATION_CODE = "authorization_code"
KIND_CLIENT_CREDENTIALS = "client_credentials"


class Authorization(Base):
    __tablename__ = "authorizations"
    __table_args__ = (Index("ix_authorizations_user_id_client_id", "user_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(1000), default="")
    # RFC 8707 resource indicators granted, space-separated; None: the default resource.
    resource: Mapped[str | None] = mapped_column(Text)
    # When the user signed in for this authorization (OpenID Connect auth_time).
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # End of the refresh-token family's absolute lifetime.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    @property
    def resources(self) -> list[str]:
        """The granted resource indicators; empty when none was requested."""
        return self.resource.split() if self.resource else []

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

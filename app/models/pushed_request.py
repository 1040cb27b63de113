"""Pushed authorization requests (RFC 9126 §2): the parameters a client sent to /par,
named by a request_uri that is stored only as its SHA-256 digest and used once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow


class PushedRequest(Base):
    __tablename__ = "pushed_authorization_requests"

    request_uri_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    # Authorization request parameters as pushed: name -> list of values.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The request_uri must first be presented at /authorize before this moment.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

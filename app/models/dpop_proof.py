"""DPoP proofs already used (RFC 9449 §11.1), when the replay cache is the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime


class UsedDPoPProof(Base):
    __tablename__ = "used_dpop_proofs"

    # sha256(jkt + " " + jti): the primary key makes a second use (use_once.Record) a no-op
    # insert in any worker.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Past this moment the proof's iat is outside the window, so it is refused anyway.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

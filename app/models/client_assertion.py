"""``jti`` values of private_key_jwt assertions already used (RFC 7523 §3, single use), when
the replay cache is the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime


class UsedClientAssertion(Base):
    __tablename__ = "used_client_assertions"

    # sha256(client_id + " " + jti): the primary key makes a second use (use_once.Record) a
    # no-op insert in any worker.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

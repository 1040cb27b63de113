"""The server's signing keys (JWK), kept in the database so every worker and host shares them.

A key is ``active`` (signs new tokens of its algorithm), ``previous`` (still verifies what it
signed) or ``retired`` (verifies nothing). Private parts never leave this table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow

STATUS_ACTIVE = "active"
STATUS_PREVIOUS = "previous"
STATUS_RETIRED = "retired"


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(10), default=STATUS_ACTIVE)
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

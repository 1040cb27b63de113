"""Deleting what can no longer be used, in bounded batches (``flask tokens purge``).

Nothing here changes what is valid: a deleted authorization or token would be refused anyway.
Each batch is its own short transaction, so a purge of millions of rows never holds a long
lock; run it from cron, e.g. hourly, on one host.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select

from app.extensions import db
from app.models import (
    Authorization,
    AuthorizationCode,
    DeviceCode,
    LoginSession,
    PushedRequest,
    RefreshToken,
    RegistrationToken,
    RevokedAccessToken,
    UsedClientAssertion,
    UsedDPoPProof,
)
from app.models.types import utcnow
from app.services.pushed_requests import INTERACTION_WINDOW
from app.settings import settings

# A used code is kept a while after expiry, so a late replay still revokes what it issued.
CODE_KEEP_AFTER_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True)
class _Plan:
    """A table ``purge`` empties: a row goes once ``column + delay`` is past, for any of the
    deadlines, or when ``other`` holds (a condition with no date, e.g. a spent token)."""

    name: str
    key: Any
    deadlines: tuple[tuple[Any, timedelta], ...]
    other: Any = None

    def condition(self, now: datetime) -> Any:
        due = [column < now - delay for column, delay in self.deadlines]
        return or_(*due, *([self.other] if self.other is not None else []))


def _plans() -> list[_Plan]:
    # Access tokens outlive nothing by more than their TTL: wait that long after an
    # authorization ends.
    token_ttl = timedelta(seconds=settings().oauth_access_token_ttl)
    now = timedelta(0)
    return [
        _Plan("authorization_codes", AuthorizationCode.code_hash,
              ((AuthorizationCode.expires_at, CODE_KEEP_AFTER_EXPIRY),)),
        _Plan("device_codes", DeviceCode.device_code_hash, ((DeviceCode.expires_at, now),)),
        _Plan("refresh_tokens", RefreshToken.token_hash, ((RefreshToken.expires_at, now),)),
        _Plan("revoked_access_tokens", RevokedAccessToken.jti,
              ((RevokedAccessToken.expires_at, now),)),
        _Plan("used_client_assertions", UsedClientAssertion.key,
              ((UsedClientAssertion.expires_at, now),)),
        _Plan("used_dpop_proofs", UsedDPoPProof.key, ((UsedDPoPProof.expires_at, now),)),
        _Plan("login_sessions", LoginSession.token_hash, ((LoginSession.expires_at, now),)),
        # A request_uri first seen just before expiry stays usable for the interaction window.
        _Plan("pushed_authorization_requests", PushedRequest.request_uri_hash,
              ((PushedRequest.expires_at, INTERACTION_WINDOW),)),
        _Plan("authorizations", Authorization.id,
              ((Authorization.expires_at, token_ttl), (Authorization.revoked_at, token_ttl))),
        _Plan("registration_tokens", RegistrationToken.token_hash,
              ((RegistrationToken.expires_at, now),), other=RegistrationToken.uses_left <= 0),
    ]  # fmt: skip


def purge(batch_size: int = 1000) -> dict[str, int]:
    """Delete expired and revoked rows; returns how many went, per table."""
    now = utcnow()
    return {
        plan.name: _delete_in_batches(plan.key, plan.condition(now), batch_size)
        for plan in _plans()
    }


@dataclass(frozen=True)
class Overdue:
    table: str
    since: datetime  # when the oldest row purge would delete became deletable


def oldest_purgeable() -> Overdue | None:
    """The row that has waited longest for ``purge`` (None: nothing to delete).

    A purge run hourly keeps this under an hour. Spent but unexpired registration tokens
    carry no date and are not counted.
    """
    now = utcnow()
    oldest: Overdue | None = None
    for plan in _plans():
        for column, delay in plan.deadlines:
            first = db.session.scalar(select(func.min(column)).where(column < now - delay))
            if first is not None and (oldest is None or first + delay < oldest.since):
                oldest = Overdue(plan.name, first + delay)
    return oldest


def _delete_in_batches(key: Any, condition: Any, batch_size: int) -> int:
    table = key.class_
    total = 0
    while True:
        batch = select(key).where(condition).limit(batch_size).scalar_subquery()
        deleted = db.session.execute(delete(table).where(key.in_(batch))).rowcount  # type: ignore[attr-defined]
        db.session.commit()
        total += int(deleted)
        if deleted < batch_size:
            return total

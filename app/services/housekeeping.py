"""Deleting what can no longer be used, in bounded batches (``flask tokens purge``).

Nothing here changes what is valid: a deleted authorization or token would be refused anyway.
Each batch is its own short transaction, so a purge of millions of rows never holds a long
lock; run it from cron, e.g. hourly, on one host.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select

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


def purge(batch_size: int = 1000) -> dict[str, int]:
    """Delete expired and revoked rows; returns how many went, per table."""
    now = utcnow()
    # Access tokens outlive nothing by more than their TTL: wait that long after an
    # authorization ends.
    token_ttl = timedelta(seconds=settings().oauth_access_token_ttl)
    plans: list[tuple[str, Any, Any]] = [
        ("authorization_codes", AuthorizationCode.code_hash,
         AuthorizationCode.expires_at < now - CODE_KEEP_AFTER_EXPIRY),
        ("device_codes", DeviceCode.device_code_hash, DeviceCode.expires_at < now),
        ("refresh_tokens", RefreshToken.token_hash, RefreshToken.expires_at < now),
        ("revoked_access_tokens", RevokedAccessToken.jti, RevokedAccessToken.expires_at < now),
        ("used_client_assertions", UsedClientAssertion.key, UsedClientAssertion.expires_at < now),
        ("used_dpop_proofs", UsedDPoPProof.key, UsedDPoPProof.expires_at < now),
        ("login_sessions", LoginSession.token_hash, LoginSession.expires_at < now),
        # A request_uri first seen just before expiry stays usable for the interaction window.
        ("pushed_authorization_requests", PushedRequest.request_uri_hash,
         PushedRequest.expires_at < now - INTERACTION_WINDOW),
        ("authorizations", Authorization.id, _authorization_is_over(now - token_ttl)),
        ("registration_tokens", RegistrationToken.token_hash,
         or_(RegistrationToken.expires_at < now, RegistrationToken.uses_left <= 0)),
    ]  # fmt: skip
    return {name: _delete_in_batches(key, condition, batch_size) for name, key, condition in plans}


def _authorization_is_over(before: datetime) -> Any:
    return or_(Authorization.expires_at < before, Authorization.revoked_at < before)


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

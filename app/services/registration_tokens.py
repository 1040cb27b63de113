"""Initial access tokens (RFC 7591 §3): who may call the registration endpoint in "token" mode.

An operator issues one with ``flask --app wsgi clients issue-registration-token``; it is shown
once and stored as a SHA-256 digest. Each successful registration spends one use atomically.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam

from app.errors import ValidationError
from app.extensions import db
from app.models import RegistrationToken
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.services import audit, use_once

MAX_EXPIRES_IN = 365 * 24 * 3600
MAX_USES = 100_000
MAX_TOKEN_LENGTH = 512

# Each use is spent once: a token with n uses is n single-use things in one row.
_SPEND_ONE_USE = use_once.Spend(
    RegistrationToken.token_hash,
    RegistrationToken.uses_left > 0,
    RegistrationToken.expires_at > bindparam("now"),
    uses_left=RegistrationToken.uses_left - 1,
)


def issue(expires_in: int = 86400, max_uses: int = 1) -> tuple[str, datetime]:
    """Store a new initial access token; returns it (shown once) and when it expires."""
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValidationError(f"expires-in must be 1 to {MAX_EXPIRES_IN} seconds")
    if not 1 <= max_uses <= MAX_USES:
        raise ValidationError(f"max-uses must be 1 to {MAX_USES}")
    token = new_token()
    now = utcnow()
    expires_at = now + timedelta(seconds=expires_in)
    db.session.add(
        RegistrationToken(
            token_hash=hash_token(token), expires_at=expires_at, uses_left=max_uses, created_at=now
        )
    )
    audit.record(
        "registration_token.issued", detail=f"{max_uses} use(s), expires in {expires_in} s"
    )
    db.session.commit()
    return token, expires_at


def is_usable(token: str) -> bool:
    """Whether ``token`` is known, unexpired and has a use left (nothing is spent)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    record = db.session.get(RegistrationToken, hash_token(token))
    return record is not None and record.is_usable(utcnow())


def spend(token: str) -> bool:
    """Take one use in the current transaction; False if none was left (another worker won).

    The caller commits with the registration it pays for, or rolls back to give the use back.
    """
    return _SPEND_ONE_USE(hash_token(token), now=utcnow())

"""Authorization codes (RFC 6749 §4.1): stored hashed, spent exactly once, replay revokes.

A code is stored with the authorization it will issue under (``store``, committed). At the token
endpoint it is spent by ``use_once`` in the token's transaction (``spend``; the token
response commits it, ``tokens.save_token_response``). A wrong PKCE verifier burns it
(``burn``, committed: RFC 9700 §4.8.2). A code that comes back spent revokes what it issued
(``refuse_replay``, committed: RFC 6749 §4.1.2, RFC 9700 §4.2.4). Spent codes are kept until
``tokens purge``, so that a replay can be recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam

from app.extensions import db
from app.models import AuthorizationCode, Client, User
from app.models.authorization import KIND_AUTHORIZATION_CODE
from app.models.types import utcnow
from app.security import hash_token
from app.services import audit, authorizations, use_once
from app.settings import settings

MAX_CODE_LENGTH = 512

_SPEND = use_once.Spend(
    AuthorizationCode.code_hash, AuthorizationCode.used_at.is_(None), used_at=bindparam("now")
)


@dataclass(frozen=True)
class CodeRequest:
    """What an approved authorization request binds its code to."""

    client: Client
    user: User
    scope: str
    auth_time: datetime
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    nonce: str | None = None
    dpop_jkt: str | None = None
    resources: tuple[str, ...] = ()


def store(code: str, request: CodeRequest) -> None:
    """Store ``code`` (its digest) and the authorization it will issue under, and commit."""
    record = authorizations.create_authorization(
        KIND_AUTHORIZATION_CODE, request.client, request.user, request.scope,
        request.auth_time, resources=list(request.resources),
    )  # fmt: skip
    db.session.flush()  # the code row references the authorization row
    db.session.add(
        AuthorizationCode(
            code_hash=hash_token(code),
            authorization_id=record.id,
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            nonce=request.nonce,
            dpop_jkt=request.dpop_jkt,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            auth_time=request.auth_time,
            expires_at=utcnow() + timedelta(seconds=settings().oauth_code_ttl),
        )
    )
    db.session.commit()


def find(code: str, client_id: str) -> AuthorizationCode | None:
    """The code if it was issued to ``client_id`` and is unexpired, or spent (a replay)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    row = db.session.get(AuthorizationCode, hash_token(code))
    if row is None or row.client_id != client_id:
        return None
    if row.used_at is None and row.expires_at <= utcnow():
        return None
    return row


def spend(row: AuthorizationCode) -> bool:
    """Spend the code in the caller's transaction; False if it was spent already."""
    return row.used_at is None and _SPEND(row.code_hash, now=utcnow())


def burn(row: AuthorizationCode) -> None:
    """Spend the code for nothing (a failed PKCE check), committed."""
    if row.used_at is None:
        _SPEND(row.code_hash, now=utcnow())
        db.session.commit()


def refuse_replay(row: AuthorizationCode) -> None:
    """A spent code came back: revoke its authorization (all it issued); audited, committed."""
    authorizations.revoke_authorization(row.authorization_id, "authorization_code_replay")
    audit.record(
        "authorization_code.replayed", user_id=row.user_id, client_id=row.client_id,
        detail="a redeemed code came back; what it issued was revoked",
    )  # fmt: skip
    db.session.commit()
    current_app.logger.warning(
        "authorization code replay: authorization %s revoked", row.authorization_id
    )

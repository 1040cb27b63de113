"""The audit trail: services record security events in the same transaction as the change.

Kinds (``KINDS``) are fixed strings; ``detail`` is a short human note and never holds a
secret, a password, a code or a token.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User

KINDS = (
    "sign_in.ok",
    "sign_in.failed",
    "consent.granted",
    "consent.revoked",
    "client.registered",
    "client.changed",
    "client.deleted",
    "client.secret_rotated",
    "registration_token.issued",
    "refresh_token.reused",
    "authorization_code.replayed",
    "device.approved",
    "device.denied",
    "key.rotated",
    "key.retired",
    "key.rewrapped",
    "user.created",
    "user.disabled",
    "user.password_changed",
    "user.admin_changed",
    "user.quota_changed",
)


def record(
    kind: str,
    *,
    user_id: int | None = None,
    client_id: str | None = None,
    actor_id: int | None = None,
    detail: str = "",
) -> None:
    """Add an event to the current transaction (the caller commits with its change)."""
    assert kind in KINDS, kind
    db.session.add(
        AuditEvent(
            kind=kind, user_id=user_id, client_id=client_id, actor_id=actor_id, detail=detail[:500]
        )  # fmt: skip
    )


def search(
    kind: str | None = None,
    username: str | None = None,
    client_id: str | None = None,
    limit: int = 200,
) -> list[tuple[AuditEvent, str | None]]:
    """Newest events first, optionally filtered; each with the username it concerns."""
    query = select(AuditEvent, User.username).outerjoin(User, User.id == AuditEvent.user_id)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if username:
        query = query.where(User.username == username.strip().lower())
    if client_id:
        query = query.where(AuditEvent.client_id == client_id)
    rows = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(limit))
    return [(event, name) for event, name in rows]

"""Remembered consent: what a user allowed a client, so the consent page is asked once."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Consent
from app.models.types import utcnow


def find_consent(user_id: int, client_id: str) -> Consent | None:
    return db.session.scalar(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )


def has_consent(user_id: int, client_id: str, scope: str) -> bool:
    consent = find_consent(user_id, client_id)
    return consent is not None and consent.covers(scope)


def remember_consent(user_id: int, client_id: str, scope: str) -> None:
    """Record (or widen) a consent; the caller commits with the code it issues."""
    consent = find_consent(user_id, client_id)
    if consent is None:
        db.session.add(Consent(user_id=user_id, client_id=client_id, scope=scope))
        return
    merged = dict.fromkeys(consent.scope.split() + scope.split())
    consent.scope = " ".join(merged)
    consent.updated_at = utcnow()

"""Remembered consent: what a user allowed a client, so the consent page is asked once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app import metrics
from app.extensions import db
from app.models import Client, Consent
from app.models.types import utcnow
from app.services import audit, authorizations, usage, use_once

_FIRST_CONSENT = use_once.Record(Consent)  # False: a racing first consent stored its row


def find_consent(user_id: int, client_id: str) -> Consent | None:
    return db.session.scalar(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )


def has_consent(user_id: int, client: Client, scope: str) -> bool:
    """``scope`` was allowed to ``client`` as it is now, with the redirect URIs it has now."""
    consent = find_consent(user_id, client.client_id)
    return consent is not None and consent.covers(scope, client.redirect_uris_digest)


def remember_consent(user_id: int, client_id: str, scope: str) -> None:
    """Record (or widen) a consent; the caller commits with the code it issues.

    Two first consents racing (two tabs, two workers) must not fail on the unique
    (user, client) row: the insert does nothing on conflict and the scopes are merged.
    A consent given before the client's redirect URIs changed is replaced, not widened.
    """
    audit.record("consent.granted", user_id=user_id, client_id=client_id, detail=scope)
    digest = db.session.get_one(Client, client_id).redirect_uris_digest
    consent = find_consent(user_id, client_id)
    if consent is None:
        now = utcnow()
        if _FIRST_CONSENT(
            user_id=user_id, client_id=client_id, scope=scope, granted_at=now,
            updated_at=now, redirect_uris_digest=digest,
        ):  # fmt: skip
            return
        consent = find_consent(user_id, client_id)
        assert consent is not None  # the racing request's row, committed
    kept = consent.scope.split() if consent.redirect_uris_digest == digest else []
    consent.scope = " ".join(dict.fromkeys(kept + scope.split()))
    consent.redirect_uris_digest = digest
    consent.updated_at = utcnow()


@dataclass(frozen=True)
class AuthorizedApp:
    """One client a user allowed, with what it did lately (for "My apps")."""

    client: Client
    consent: Consent
    last_used: date | None
    activity: dict[str, int]


def authorized_apps(user_id: int, days: int = 30) -> list[AuthorizedApp]:
    """Every client with a remembered consent from ``user_id``, most recently granted first."""
    rows = db.session.execute(
        select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.user_id == user_id)
        .order_by(Consent.updated_at.desc())
    ).all()
    last_used = usage.last_used_by_client(user_id)
    activity = usage.totals_by_client(user_id, days)
    return [
        AuthorizedApp(
            client, consent, last_used.get(client.client_id), activity.get(client.client_id, {})
        )
        for consent, client in rows
    ]


def revoke_client_access(user_id: int, client_id: str) -> bool:
    """Withdraw consent and end every token ``client_id`` holds for ``user_id``, at once."""
    consent = find_consent(user_id, client_id)
    if consent is None:
        return False
    db.session.delete(consent)
    authorizations.revoke_user_client_authorizations(user_id, client_id, "consent_revoked")
    audit.record("consent.revoked", user_id=user_id, client_id=client_id)
    db.session.commit()
    metrics.revocation(metrics.MY_APPS)
    return True

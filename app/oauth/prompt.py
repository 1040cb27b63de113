"""What the authorization endpoint does next: sign in, ask consent, or answer at once.

OpenID Connect Core §3.1.2.1: ``prompt=none`` never shows a page (``login_required`` /
``consent_required`` instead), ``prompt=login`` and an exceeded ``max_age`` ask the user to
sign in again, ``prompt=consent`` shows the consent page even when consent is remembered.

Remembered consent answers silently only when the redirect URI identifies the client: a public
client on a loopback or private-use redirect URI can be impersonated by any program listening
there, with its own PKCE challenge (RFC 6749 §10.2, RFC 8252 §8.6), so it always meets the
consent page (docs/security.md NA-01).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

from app.services import consents


class Step(enum.Enum):
    SIGN_IN = "sign_in"
    CONSENT = "consent"
    ISSUE = "issue"


def prompts_of(grant: Any) -> set[str]:
    return set(str(grant.request.payload.data.get("prompt") or "").split())


def max_age_of(grant: Any) -> int | None:
    raw = grant.request.payload.data.get("max_age")
    if raw is None or raw == "":
        return None
    if not str(raw).isdigit() or len(str(raw)) > 10:
        raise InvalidRequestError(
            "max_age must be a non-negative integer.", redirect_uri=grant.redirect_uri
        )
    return int(raw)


def next_step(grant: Any, user_id: int | None, authenticated_at: datetime | None) -> Step:
    """Decide the next step for a validated authorization request; raise prompt=none errors."""
    prompts = prompts_of(grant)
    silent = "none" in prompts
    if user_id is None or "login" in prompts or _too_old(grant, authenticated_at):
        if silent:
            raise LoginRequiredError(redirect_uri=grant.redirect_uri)
        return Step.SIGN_IN
    client = grant.request.client
    if (
        "consent" in prompts
        or not identity_assured(client, grant.redirect_uri)
        or not consents.has_consent(user_id, client, grant.request.scope)
    ):
        if silent:
            raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
        return Step.CONSENT
    return Step.ISSUE


def identity_assured(client: Any, redirect_uri: str) -> bool:
    """True unless ``client`` is public and ``redirect_uri`` is not https on a named site."""
    if not client.is_public:
        return True  # it authenticates at the token endpoint
    parts = urlsplit(redirect_uri)
    return parts.scheme == "https" and _names_a_site(parts.hostname)


def _names_a_site(host: str | None) -> bool:
    """A DNS name that is not loopback: ``localhost``, ``*.localhost`` (RFC 6761 §6.3, with
    or without the root dot) and IP literals name a machine, whose ports anyone there may bind."""
    name = (host or "").rstrip(".").lower()
    if not name or name == "localhost" or name.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


def _too_old(grant: Any, authenticated_at: datetime | None) -> bool:
    max_age = max_age_of(grant)
    if max_age is None or authenticated_at is None:
        return False
    return time.time() - authenticated_at.timestamp() > max_age

"""Storing and redeeming pushed authorization requests (RFC 9126 §2.2, §4).

A request_uri is ``urn:ietf:params:oauth:request_uri:`` + 256 random bits; only its SHA-256
digest is stored. Its life has three stages:

1. pushed: it must be presented at /authorize within ``PAR_REQUEST_TTL`` seconds;
2. first seen: from then on it stays usable for ``INTERACTION_WINDOW`` (sign-in and consent
   are several GETs of the same /authorize URL);
3. used: consumed by ``use_once`` (``UPDATE ... WHERE used_at IS NULL``) when the authorization
   response is issued, so it never yields a second code, across workers and hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam

from app.errors import ValidationError
from app.extensions import db
from app.models import PushedRequest
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.services import use_once
from app.settings import settings

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
INTERACTION_WINDOW = timedelta(minutes=10)
MAX_REQUEST_URI_LENGTH = 200

Parameters = dict[str, list[str]]

_FIRST_SEEN = use_once.Spend(
    PushedRequest.request_uri_hash,
    PushedRequest.first_seen_at.is_(None),
    first_seen_at=bindparam("now"),
)
_USE = use_once.Spend(
    PushedRequest.request_uri_hash, PushedRequest.used_at.is_(None), used_at=bindparam("now")
)


class PushedRequestError(ValidationError):
    """The request_uri cannot be redeemed; ``error`` is the OAuth error code."""


@dataclass(frozen=True)
class Redeemable:
    """A pushed request presented at /authorize and still usable."""

    request_uri_hash: str
    client_id: str
    parameters: Parameters
    first_seen_at: datetime


def push(client_id: str, parameters: Parameters) -> tuple[str, int]:
    """Store a validated authorization request; returns (request_uri, expires_in)."""
    ttl = int(settings().par_request_ttl)
    request_uri = REQUEST_URI_PREFIX + new_token()
    db.session.add(
        PushedRequest(
            request_uri_hash=hash_token(request_uri),
            client_id=client_id,
            parameters=parameters,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    db.session.commit()
    return request_uri, ttl


def redeem(request_uri: str, client_id: str | None) -> Redeemable:
    """The pushed request named by ``request_uri`` for ``client_id`` (RFC 9126 §4).

    Records its first presentation. Raises PushedRequestError when it is unknown, expired,
    used, or was pushed by another client.
    """
    if not client_id:
        raise PushedRequestError("client_id is required with request_uri (RFC 9126 section 4).")
    row = _find(request_uri)
    now = utcnow()
    if row is None or row.client_id != client_id or not _usable(row, now):
        raise PushedRequestError(
            "The request_uri is unknown, expired or already used.", error="invalid_request_uri"
        )
    if row.first_seen_at is None:
        _FIRST_SEEN(row.request_uri_hash, now=now)  # a concurrent first sight may win: read it
        db.session.commit()
        db.session.refresh(row)
    assert row.first_seen_at is not None
    return Redeemable(row.request_uri_hash, row.client_id, row.parameters, row.first_seen_at)


def consume(request_uri_hash: str) -> bool:
    """Mark the pushed request used; False when another response already used it."""
    used = _USE(request_uri_hash, now=utcnow())
    db.session.commit()
    return used


def _find(request_uri: str) -> PushedRequest | None:
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > MAX_REQUEST_URI_LENGTH:
        return None
    return db.session.get(PushedRequest, hash_token(request_uri))


def _usable(row: PushedRequest, now: datetime) -> bool:
    if row.used_at is not None:
        return False
    if row.first_seen_at is None:
        return now < row.expires_at
    return now < row.first_seen_at + INTERACTION_WINDOW

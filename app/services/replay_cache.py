"""Single-use identifiers shared by every worker and host: DPoP proof jtis (RFC 9449 §11.1)
and client assertion jtis (RFC 7523 §3), each kind in its own table or key space.

``REPLAY_CACHE_URI`` unset keeps them in the database (``use_once.Record``: an INSERT ... ON
CONFLICT DO NOTHING, so a second use finds the key taken in any worker, and nothing of the
caller's transaction is lost); a ``redis://`` URL keeps them in Redis (``SET NX EX``), which
expires them itself. If the store cannot answer, the request fails (503), never open.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import current_app

from app.errors import ServiceUnavailable
from app.extensions import db
from app.models import UsedClientAssertion, UsedDPoPProof
from app.security import hash_token
from app.services import use_once
from app.settings import settings

EXTENSION_KEY = "tessera.replay_cache"
REDIS_KEY_PREFIX = "tessera:dpop-jti:"
REDIS_TIMEOUT = 2  # seconds to connect or answer


class Kind:
    """One kind of identifier: its table, and its key prefix in Redis."""

    def __init__(self, model: type[Any], redis_prefix: str) -> None:
        self.record = use_once.Record(model)
        self.redis_prefix = redis_prefix


DPOP_PROOF = Kind(UsedDPoPProof, REDIS_KEY_PREFIX)
CLIENT_ASSERTION = Kind(UsedClientAssertion, "tessera:client-assertion-jti:")


def first_use(
    identifier: str, expires_at: float, *, kind: Kind = DPOP_PROOF, commit: bool = True
) -> bool:
    """Record ``identifier`` until ``expires_at`` (epoch seconds); False if seen before.

    ``commit=False``: in the database the row joins the caller's transaction (a concurrent
    second use waits for it, then finds the key taken) and the caller's service commits;
    Redis stores it at once.
    """
    key = hash_token(identifier)
    uri = settings().replay_cache_uri
    if uri:
        return _first_use_in_redis(uri, kind.redis_prefix + key, expires_at)
    first = kind.record(key=key, expires_at=datetime.fromtimestamp(expires_at, UTC))
    if commit:
        db.session.commit()
    return first


def first_use_alone(identifier: str, expires_at: float, *, kind: Kind = DPOP_PROOF) -> None:
    """After ``first_use(commit=False)`` when the request failed: its transaction is
    abandoned (this service owns the request's writes from here on), the identifier stays
    used on its own (Redis holds it already)."""
    if settings().replay_cache_uri:
        return
    db.session.rollback()
    first_use(identifier, expires_at, kind=kind)


def _first_use_in_redis(uri: str, key: str, expires_at: float) -> bool:
    ttl = max(1, math.ceil(expires_at - time.time()))
    try:
        stored = _redis(uri).set(key, 1, nx=True, ex=ttl)
    except redis.RedisError as exc:
        current_app.logger.error("replay cache unavailable: %s", exc.__class__.__name__)
        raise ServiceUnavailable("The service is briefly unavailable; please retry.") from None
    return bool(stored)


def _redis(uri: str) -> redis.Redis:
    """One connection pool per app and URL (each gunicorn worker has its own app)."""
    clients: dict[str, redis.Redis] = current_app.extensions.setdefault(EXTENSION_KEY, {})
    if uri not in clients:
        clients[uri] = redis.Redis.from_url(
            uri, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    return clients[uri]

"""Single-use identifiers shared by every worker and host (RFC 9449 §11.1 proof replay).

``REPLAY_CACHE_URI`` unset keeps them in the database (a primary-key insert: the second
insert of a key fails in any worker); a ``redis://`` URL keeps them in Redis (``SET NX EX``),
which expires them itself. If the store cannot answer, the request fails (503), never open.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import redis
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.errors import ServiceUnavailable
from app.extensions import db
from app.models import UsedDPoPProof
from app.security import hash_token
from app.settings import settings

EXTENSION_KEY = "tessera.replay_cache"
REDIS_KEY_PREFIX = "tessera:dpop-jti:"
REDIS_TIMEOUT = 2  # seconds to connect or answer


def first_use(identifier: str, expires_at: float, *, commit: bool = True) -> bool:
    """Record ``identifier`` until ``expires_at`` (epoch seconds); False if seen before.

    ``commit=False``: in the database the row is flushed into the caller's transaction (a
    second use fails at once, in any worker) and the caller commits; Redis stores it at once.
    """
    key = hash_token(identifier)
    uri = settings().replay_cache_uri
    if uri:
        return _first_use_in_redis(uri, key, expires_at)
    return _first_use_in_database(key, expires_at, commit)


def first_use_alone(identifier: str, expires_at: float) -> None:
    """After ``first_use(commit=False)`` when the caller's transaction is abandoned: drop it
    and keep the identifier used on its own (Redis holds it already)."""
    if settings().replay_cache_uri:
        return
    db.session.rollback()
    _first_use_in_database(hash_token(identifier), expires_at, True)


def _first_use_in_database(key: str, expires_at: float, commit: bool) -> bool:
    try:
        db.session.add(UsedDPoPProof(key=key, expires_at=datetime.fromtimestamp(expires_at, UTC)))
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _first_use_in_redis(uri: str, key: str, expires_at: float) -> bool:
    ttl = max(1, math.ceil(expires_at - time.time()))
    try:
        stored = _redis(uri).set(REDIS_KEY_PREFIX + key, 1, nx=True, ex=ttl)
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

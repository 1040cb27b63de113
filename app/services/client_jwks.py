"""Clients' JWK Sets fetched from their ``jwks_uri``, cached per worker (docs/security.md OF-02).

An entry lives for the answer's ``Cache-Control: max-age``, held between 60 s and 24 h
(5 minutes when the answer names none). A ``kid`` the cached set does not hold triggers one
refetch (the client may have rotated its keys), but at most once per 30 s per client; a
failed fetch is remembered as long, so neither a stream of unknown kids nor a dead or slow
``jwks_uri`` makes Tessera fetch on every request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from app.services import outbound
from app.services.outbound import OutboundFetchError

MIN_TTL = 60
MAX_TTL = 24 * 3600
DEFAULT_TTL = 300
MIN_REFETCH_INTERVAL = 30
EXTENSION_KEY = "tessera.client_jwks"
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class JWKSUnavailable(Exception):
    """The client's JWK Set could not be fetched (now, or on the last try)."""


@dataclass
class _Entry:
    jwks: dict[str, Any] | None = None
    expires_at: float = 0.0
    kids: frozenset[str] = frozenset()
    failed_at: float | None = None  # the last fetch failed then
    kid_refetched_at: float | None = None  # the last refetch for an unknown kid


@dataclass
class _Cache:
    entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_jwks(client_id: str, jwks_uri: str, kid: str | None) -> dict[str, Any]:
    """The client's JWK Set, from the cache or, when due, fetched again."""
    cache: _Cache = current_app.extensions.setdefault(EXTENSION_KEY, _Cache())
    now = time.monotonic()
    with cache.lock:
        entry = cache.entries.setdefault((client_id, jwks_uri), _Entry())
        fresh = entry.jwks if entry.expires_at > now else None
        if not _fetch_due(entry, fresh, kid, now):
            if fresh is None:
                raise JWKSUnavailable("the last fetch failed; not retried yet")
            return fresh
    try:
        jwks, ttl = _fetch(jwks_uri)
    except JWKSUnavailable:
        with cache.lock:
            entry.failed_at = now
        if fresh is None:
            raise
        return fresh  # a failed refetch for an unknown kid keeps the still-fresh keys
    with cache.lock:
        entry.jwks, entry.expires_at, entry.failed_at = jwks, time.monotonic() + ttl, None
        entry.kids = frozenset(str(k.get("kid")) for k in jwks["keys"] if isinstance(k, dict))
    return jwks


def _recent(moment: float | None, now: float) -> bool:
    return moment is not None and now - moment < MIN_REFETCH_INTERVAL


def _fetch_due(entry: _Entry, fresh: dict[str, Any] | None, kid: str | None, now: float) -> bool:
    if _recent(entry.failed_at, now):
        return False
    if fresh is None:
        return True
    if kid is None or kid in entry.kids or _recent(entry.kid_refetched_at, now):
        return False
    entry.kid_refetched_at = now
    return True


def _fetch(jwks_uri: str) -> tuple[dict[str, Any], int]:
    try:
        fetched = outbound.fetch(jwks_uri, allow_loopback=outbound.loopback_allowed())
        jwks = json.loads(fetched.body)
    except (OutboundFetchError, ValueError, RecursionError) as exc:  # Recursion: deep JSON
        current_app.logger.warning("jwks_uri fetch failed: %s", exc)
        raise JWKSUnavailable(str(exc)) from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise JWKSUnavailable("not a JWK Set")
    return jwks, _ttl(fetched.headers.get("Cache-Control"))


def _ttl(cache_control: str | None) -> int:
    """max-age held between the floor and the ceiling; no-store or no-cache mean the floor."""
    if not cache_control:
        return DEFAULT_TTL
    if re.search(r"no-store|no-cache", cache_control, re.IGNORECASE):
        return MIN_TTL
    match = MAX_AGE.search(cache_control)
    if match is None:
        return DEFAULT_TTL
    return max(MIN_TTL, min(MAX_TTL, int(match.group(1))))

"""Throttles on the endpoints clients call: per client, per IP, and on failed authentication.

Counters live in RATELIMIT_STORAGE_URI (per worker with ``memory://``, shared by every worker
and host with Redis; if Redis is lost they fall back to per-worker memory). A throttled call
answers 429 with ``Retry-After`` and an RFC 6749 §5.2-shaped body (errors.py).

- ``OAUTH_LIMIT_PER_IP``: calls from one address to one endpoint.
- ``OAUTH_LIMIT_PER_CLIENT``: calls that authenticated as one client, so nobody spends a
  client's budget by naming its client_id in a malformed call or with a wrong secret.
- ``CLIENT_AUTH_FAILURE_LIMIT``: failed client authentications (401) for one client from one
  address, across every client endpoint (RFC 6819 §5.1.4.2.4).
- ``CLIENT_AUTH_FAILURE_LIMIT_PER_IP``: failed client authentications from one address, for
  any client.

Failures only ever slow down the address they come from: knowing a client_id is not enough to
lock the client out (pen-test item 6). A throttled address waits even with the right secret,
so guessing from it gains nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar, cast

from flask import Response, current_app, g, request
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from app.extensions import limiter, source_address

View = TypeVar("View", bound=Callable[..., object])
MAX_KEY_LENGTH = 128
MAX_ASSERTION_LENGTH = 16 * 1024


def claimed_client_id() -> str | None:
    """The client a request names, before anyone has checked it.

    The Basic user name or ``client_id`` field; for private_key_jwt without ``client_id``
    (RFC 7523 §3), the ``iss`` of the unverified assertion, used only as a counter key.
    """
    try:
        auth = request.authorization
    except ValueError:  # e.g. "Basic \xa0": no credentials to name anyone
        auth = None
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username[:MAX_KEY_LENGTH]
    if request.mimetype == "application/x-www-form-urlencoded":
        client_id = request.form.get("client_id")
        if client_id:
            return client_id[:MAX_KEY_LENGTH]
        return _assertion_issuer(request.form.get("client_assertion", ""))
    return None


def _assertion_issuer(assertion: str) -> str | None:
    """``iss`` of a compact JWS, unverified: it only chooses which counter a failure hits."""
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        return None
    try:
        claims = json.loads(extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError, RecursionError):  # RecursionError: deep JSON
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer[:MAX_KEY_LENGTH] if isinstance(issuer, str) and issuer else None


def client_key() -> str:
    """Throttle key: the claimed client, or the address when no client is named."""
    client_id = claimed_client_id()
    return f"client:{client_id}" if client_id else f"ip:{source_address()}"


def client_at_address_key() -> str:
    """Throttle key for failures: the claimed client at this address."""
    return f"{client_key()}@{source_address()}"


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def _authentication_failed(response: Response) -> bool:
    return response.status_code == 401


def _client_authenticated(response: Response) -> bool:
    """Only a call that proved it is the client uses up that client's budget: anyone can name
    a client_id in a malformed request (400) or a wrong secret (401)."""
    return g.get("authenticated_client_id") is not None


def client_endpoint(view: View) -> View:
    """Apply the client throttles to a view where clients authenticate."""
    throttled: Callable[..., object] = view
    throttled = limiter.limit(_setting("OAUTH_LIMIT_PER_IP"), key_func=source_address)(throttled)
    throttled = limiter.limit(
        _setting("OAUTH_LIMIT_PER_CLIENT"),
        key_func=client_key,
        deduct_when=_client_authenticated,
    )(throttled)
    throttled = limiter.shared_limit(
        _setting("CLIENT_AUTH_FAILURE_LIMIT"),
        scope="client-auth-failures",
        key_func=client_at_address_key,
        deduct_when=_authentication_failed,
    )(throttled)
    throttled = limiter.shared_limit(
        _setting("CLIENT_AUTH_FAILURE_LIMIT_PER_IP"),
        scope="client-auth-failures-ip",
        key_func=source_address,
        deduct_when=_authentication_failed,
    )(throttled)
    return cast(View, throttled)

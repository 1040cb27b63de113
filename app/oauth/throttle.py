"""Throttles on the endpoints clients call: per client, per IP, and on failed authentication.

Counters live in RATELIMIT_STORAGE_URI (per worker with ``memory://``, shared by every worker
and host with Redis; if Redis is lost they fall back to per-worker memory). A throttled call
answers 429 with ``Retry-After`` and an RFC 6749 §5.2-shaped body (errors.py).

- ``OAUTH_LIMIT_PER_IP``: calls from one address to one endpoint.
- ``OAUTH_LIMIT_PER_CLIENT``: calls naming one client_id (Basic user name or form field).
- ``CLIENT_AUTH_FAILURE_LIMIT``: failed client authentications (401) for one client_id,
  across token, introspection and revocation (RFC 6819 §5.1.4.2.4). Once reached, even the
  right secret waits for the window to pass, so guessing gains nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from flask import Response, current_app, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter

View = TypeVar("View", bound=Callable[..., object])
MAX_KEY_LENGTH = 128


def claimed_client_id() -> str | None:
    """The client_id a request names, before anyone has checked it."""
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
    return None


def client_key() -> str:
    """Throttle key: the claimed client, or the address when no client is named."""
    client_id = claimed_client_id()
    return f"client:{client_id}" if client_id else f"ip:{get_remote_address()}"


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def _authentication_failed(response: Response) -> bool:
    return response.status_code == 401


def client_endpoint(view: View) -> View:
    """Apply the three client throttles to a token, introspection or revocation view."""
    throttled: Callable[..., object] = view
    throttled = limiter.limit(_setting("OAUTH_LIMIT_PER_IP"), key_func=get_remote_address)(
        throttled
    )
    throttled = limiter.limit(_setting("OAUTH_LIMIT_PER_CLIENT"), key_func=client_key)(throttled)
    throttled = limiter.shared_limit(
        _setting("CLIENT_AUTH_FAILURE_LIMIT"),
        scope="client-auth-failures",
        key_func=client_key,
        deduct_when=_authentication_failed,
    )(throttled)
    return cast(View, throttled)

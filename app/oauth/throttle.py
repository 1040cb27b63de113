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

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, current_app, request

from app.extensions import limiter, source_address
from app.oauth.client_auth import presented_credentials

View = TypeVar("View", bound=Callable[..., object])
_AUTHENTICATED = "tessera_authenticated_client_id"


def claimed_client_id() -> str | None:
    """The client a request names, before anyone has checked it (see ``Credentials``)."""
    return presented_credentials(request).client_id


def client_key() -> str:
    """Throttle key: the claimed client, or the address when no client is named."""
    client_id = claimed_client_id()
    return f"client:{client_id}" if client_id else f"ip:{source_address()}"


def client_at_address_key() -> str:
    """Throttle key for failures: the claimed client at this address."""
    return f"{client_key()}@{source_address()}"


def answer(response: Response, oauth_request: Any) -> Response:
    """The view's answer, marked with the client ``oauth_request`` authenticated, if any:
    that call uses up the client's budget."""
    setattr(response, _AUTHENTICATED, getattr(oauth_request, "authenticated_client_id", None))
    return response


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def _authentication_failed(response: Response) -> bool:
    return response.status_code == 401


def _client_authenticated(response: Response) -> bool:
    """Only a call that proved it is the client uses up that client's budget: anyone can name
    a client_id in a malformed request (400) or a wrong secret (401)."""
    return getattr(response, _AUTHENTICATED, None) is not None


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

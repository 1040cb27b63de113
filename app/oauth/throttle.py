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

The four limits are checked here on Flask-Limiter's strategy and storage, with its keys,
order, 429 answer and ``X-RateLimit-*`` headers, but without its per-request machinery (limit
resolution, string parsing, request context), which cost about a tenth of a /token call: the
limit strings are parsed once per value, the keys computed once, and the storage is asked only
what the answer needs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, Response, after_this_request, current_app, request
from limits import RateLimitItem, parse_many
from limits.strategies import RateLimiter
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter, source_address
from app.memory_limits import SweptMemoryStorage
from app.oauth.client_auth import presented_credentials
from app.route_policy import rate_limited
from app.settings import settings

View = TypeVar("View", bound=Callable[..., object])
_AUTHENTICATED = "tessera_authenticated_client_id"
EXTENSION_KEY = "tessera.client_throttle"
STORAGE_RECHECK_SECONDS = 5  # after a storage failure, per-worker memory counts this long
log = logging.getLogger(__name__)

# When a limit counts a call: always (before the view), or after the answer when the caller
# authenticated as the client, or when client authentication failed (401).
ALWAYS, AUTHENTICATED, FAILED = "always", "authenticated", "failed"


@dataclass(frozen=True)
class _Limit:
    setting: str
    scope: str | None  # a shared scope; None: the endpoint's own counter
    key: str  # "address", "client" or "client@address"
    counts: str


# Flask-Limiter's order (the order the decorators used to register them): it decides which
# limit's numbers the X-RateLimit-* headers show and which breach is reported first.
LIMITS = (
    _Limit("OAUTH_LIMIT_PER_IP", None, "address", ALWAYS),
    _Limit("OAUTH_LIMIT_PER_CLIENT", None, "client", AUTHENTICATED),
    _Limit("CLIENT_AUTH_FAILURE_LIMIT", "client-auth-failures", "client@address", FAILED),
    _Limit("CLIENT_AUTH_FAILURE_LIMIT_PER_IP", "client-auth-failures-ip", "address", FAILED),
)


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


@functools.lru_cache(maxsize=64)
def _layout(values: tuple[str, ...]) -> tuple[tuple[RateLimitItem, _Limit], ...]:
    """Every limit item of LIMITS (their setting ``values``), in Flask-Limiter's order: by
    window length, stably. Parsed and sorted once per set of values, not per request."""
    items = [
        (item, limit) for limit, value in zip(LIMITS, values, strict=True)
        for item in parse_many(value)
    ]  # fmt: skip
    return tuple(sorted(items, key=lambda pair: pair[0].GRANULARITY.seconds))


@dataclass
class _Check:
    """One limit item as this request counts it."""

    item: RateLimitItem
    identifiers: tuple[str, ...]  # [key prefix,] key, scope: Flask-Limiter's storage key
    counts: str
    shared: bool


@dataclass
class _State:
    """Per app: the strategy on Flask-Limiter's storage, and the per-worker fallback used while
    that storage does not answer."""

    primary: RateLimiter
    fallback: RateLimiter | None = None
    down_until: float = 0.0


def _state(app: Flask) -> _State:
    state: _State | None = app.extensions.get(EXTENSION_KEY)
    if state is None:
        state = app.extensions[EXTENSION_KEY] = _State(limiter.limiter)
    return state


def _strategy(state: _State) -> RateLimiter:
    if state.down_until > time.monotonic() and state.fallback is not None:
        return state.fallback
    return state.primary


def _run(state: _State, operation: str, check: _Check, cost: int = 1) -> Any:
    """One strategy call; on a storage failure, per-worker memory answers (and counts) for
    STORAGE_RECHECK_SECONDS, as Flask-Limiter's in-memory fallback does."""
    strategy = _strategy(state)
    try:
        if operation == "window":
            return strategy.get_window_stats(check.item, *check.identifiers)
        return getattr(strategy, operation)(check.item, *check.identifiers, cost=cost)
    except Exception:
        if strategy is state.fallback or not settings().ratelimit_in_memory_fallback_enabled:
            raise
        log.warning("Rate limit storage unreachable - falling back to in-memory storage")
        if state.fallback is None:
            state.fallback = type(state.primary)(SweptMemoryStorage())
        state.down_until = time.monotonic() + STORAGE_RECHECK_SECONDS
        return _run(state, operation, check, cost)


def _checks(endpoint: str) -> list[_Check]:
    config = settings()
    prefix = config.ratelimit_key_prefix
    address = source_address()
    client = client_key()
    keys = {"address": address, "client": client, "client@address": f"{client}@{address}"}
    layout = _layout(tuple(config.rate_limit(limit.setting) for limit in LIMITS))
    return [
        _Check(
            item,
            _identifiers(prefix, keys[limit.key], limit.scope or endpoint),
            limit.counts,
            limit.scope is not None,
        )  # fmt: skip
        for item, limit in layout
    ]


def _identifiers(prefix: str, key: str, scope: str) -> tuple[str, ...]:
    return (prefix, key, scope) if prefix else (key, scope)


def _should_count(check: _Check, response: Response) -> bool:
    if check.counts == AUTHENTICATED:
        return getattr(response, _AUTHENTICATED, None) is not None
    return response.status_code == 401


def _add_headers(state: _State, response: Response, check: _Check) -> None:
    """Flask-Limiter's X-RateLimit-* headers and Retry-After, for ``check``'s window."""
    config = current_app.config
    if not settings().ratelimit_headers_enabled:
        return
    window = _run(state, "window", check)
    reset_at = int(window.reset_time + 1)
    headers = response.headers
    headers.add(config.get("RATELIMIT_HEADER_LIMIT", "X-RateLimit-Limit"), str(check.item.amount))
    headers.add(config.get("RATELIMIT_HEADER_REMAINING", "X-RateLimit-Remaining"),
                str(window.remaining))  # fmt: skip
    headers.add(config.get("RATELIMIT_HEADER_RESET", "X-RateLimit-Reset"), str(reset_at))
    headers.set(config.get("RATELIMIT_HEADER_RETRY_AFTER", "Retry-After"),
                str(int(reset_at - time.time())))  # fmt: skip


def _throttle() -> None:
    """Check the limits before the view; count the conditional ones after its answer."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = _state(app)
    checks = _checks(request.endpoint or "")
    evaluated: list[_Check] = []
    breached: _Check | None = None
    for check in checks:
        operation = "hit" if check.counts == ALWAYS else "test"
        evaluated.append(check)
        if not _run(state, operation, check):
            breached = check
            break
    shown = breached or next((c for c in evaluated if not c.shared), evaluated[0])

    @after_this_request
    def _count_and_show(response: Response) -> Response:
        for check in evaluated:
            if check.counts != ALWAYS and check is not breached and _should_count(check, response):
                try:
                    _run(state, "hit", check)
                except Exception:
                    log.exception("Failed to deduct rate limit. Swallowing error")
        try:
            _add_headers(state, response, shown)
        except Exception:
            log.exception("Failed to update rate limit headers. Swallowing error")
        return response

    if breached is not None:
        log.info("ratelimit %s exceeded at endpoint: %s", breached.item, request.endpoint)
        raise TooManyRequests(description=str(breached.item))


def client_endpoint(view: View) -> View:
    """Apply the client throttles to a view where clients authenticate."""

    @rate_limited("the client throttles: " + ", ".join(limit.setting for limit in LIMITS))
    @functools.wraps(view)
    def throttled(*args: Any, **kwargs: Any) -> object:
        if limiter.enabled:
            _throttle()
        return view(*args, **kwargs)

    return cast(View, throttled)

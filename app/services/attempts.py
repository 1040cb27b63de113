"""Counters of failed guesses at a secret typed into a form: only failures count.

A guess first reserves one unit of every budget it falls under, atomically, before the
secret is checked, so 50 guesses sent at once cannot all slip through a check-then-count gap.
A budget already used up refuses the guess unchecked (``TooManyAttempts`` with the seconds to
wait) and is not charged for it. If the secret was right, ``Guess.succeeded`` gives the units
back, and empties the budgets marked ``cleared_by_success``: a correct secret is not a guess.

Budgets are fixed windows in the limits syntax, several tiers allowed ("5 per minute;
20 per hour" gives growing delays). They live in RATELIMIT_STORAGE_URI under
RATELIMIT_KEY_PREFIX: per worker with ``memory://``, shared by every worker and host with
Redis. If Redis cannot answer, counting falls back to the worker's memory and Redis is tried
again after ``STORAGE_RETRY_SECONDS``, so a lost Redis never stops sign-in; with
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED false the attempt is a 503 instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis import RedisError

from app.errors import ServiceUnavailable, TooManyAttempts
from app.memory_limits import SweptMemoryStorage
from app.settings import settings

EXTENSION_KEY = "tessera.attempts"
STORAGE_RETRY_SECONDS = 30
REDIS_TIMEOUT = 2  # seconds to connect or answer

T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """How many failures ``key`` may have (limits syntax, ``;`` between tiers)."""

    limits: str
    key: str
    cleared_by_success: bool = False


@dataclass(frozen=True)
class _Unit:
    item: RateLimitItem
    key: str
    cleared_by_success: bool


@dataclass
class Guess:
    """A guess that was let through; it stays counted unless it ``succeeded``."""

    _counter: _Counter
    _units: Sequence[_Unit]
    _settled: bool = field(default=False)

    def succeeded(self) -> None:
        """The secret was right: give the units back, empty the budgets marked so."""
        if not self._settled:
            self._settled = True
            self._counter.give_back(self._units)


def guess(budgets: Sequence[Budget], refusal: str) -> Guess:
    """Reserve a guess under every budget, or raise ``TooManyAttempts(refusal)`` unchecked."""
    counter = _counter()
    units = [
        _Unit(item, budget.key, budget.cleared_by_success)
        for budget in budgets
        for item in parse_many(budget.limits)
    ]
    wait = counter.reserve(units)
    if wait is not None:
        raise TooManyAttempts(refusal, retry_after=wait)
    return Guess(counter, units)


class _Counter:
    """Fixed windows in the shared store, or in this worker's memory while it is down."""

    def __init__(self, uri: str, prefix: str, fallback: bool) -> None:
        options: dict[str, float | bool] = {"wrap_exceptions": True}
        if uri.startswith(("redis://", "rediss://")):
            options |= {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        self.prefix = prefix
        self.shared = FixedWindowRateLimiter(storage_from_string(uri, **options))
        self.memory = FixedWindowRateLimiter(SweptMemoryStorage())
        self.fallback = fallback
        self.shared_down_until = 0.0

    def reserve(self, units: Sequence[_Unit]) -> int | None:
        """None once every unit is taken; else the seconds until the fullest budget has room."""

        def operation(windows: FixedWindowRateLimiter) -> int | None:
            full = [unit for unit in units if not windows.test(unit.item, *self._ids(unit))]
            if full:
                return self._seconds_to_wait(windows, full)
            lost = [unit for unit in units if not windows.hit(unit.item, *self._ids(unit))]
            if lost:  # other guesses took the last units in between: this one is refused
                self._refund(windows, units)
                return self._seconds_to_wait(windows, lost)
            return None

        return self._run(operation)

    def give_back(self, units: Sequence[_Unit]) -> None:
        def operation(windows: FixedWindowRateLimiter) -> None:
            cleared = [unit for unit in units if unit.cleared_by_success]
            for unit in cleared:
                windows.storage.clear(unit.item.key_for(*self._ids(unit)))
            self._refund(windows, [unit for unit in units if not unit.cleared_by_success])

        self._run(operation)

    def _ids(self, unit: _Unit) -> tuple[str, str, str]:
        return (self.prefix, "attempts", unit.key)

    def _refund(self, windows: FixedWindowRateLimiter, units: Sequence[_Unit]) -> None:
        for unit in units:
            key = unit.item.key_for(*self._ids(unit))
            windows.storage.incr(key, unit.item.get_expiry(), amount=-1)

    def _seconds_to_wait(self, windows: FixedWindowRateLimiter, units: Sequence[_Unit]) -> int:
        resets = [windows.get_window_stats(u.item, *self._ids(u)).reset_time for u in units]
        return max(1, math.ceil(max(resets) - time.time()))

    def _run(self, operation: Callable[[FixedWindowRateLimiter], T]) -> T:
        if time.monotonic() >= self.shared_down_until:
            try:
                return operation(self.shared)
            except (StorageError, RedisError, OSError) as exc:
                if not self.fallback:
                    current_app.logger.error("attempt counters unreachable: %s", type(exc).__name__)
                    raise ServiceUnavailable(
                        "The service is briefly unavailable; please retry."
                    ) from None
                current_app.logger.warning(
                    "attempt counters unreachable (%s): counting in this worker's memory",
                    exc.__class__.__name__,
                )
                self.shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
        return operation(self.memory)


def _counter() -> _Counter:
    """One counter per app (each gunicorn worker has its own app)."""
    counter: _Counter | None = current_app.extensions.get(EXTENSION_KEY)
    if counter is None:
        config = settings()
        uri, prefix = str(config.ratelimit_storage_uri), str(config.ratelimit_key_prefix)
        fallback = bool(config.ratelimit_in_memory_fallback_enabled)
        counter = current_app.extensions[EXTENSION_KEY] = _Counter(uri, prefix, fallback)
    return counter

"""``memory://`` rate-limit counters that sweep inline instead of starting a thread.

limits' MemoryStorage sweeps expired counters on a ``threading.Timer`` of 10 ms and starts a
new one on any count made after the last has ended: on a worker between bursts nearly every
throttled call (/token, /introspect, /login attempts) started a thread, 4 % of a worker's
samples during sign-in flows. Reads already drop an expired counter themselves; the sweep
only bounds memory, and doing it inline at most once a second bounds it as well.

Importing this module makes ``memory://`` (limits' ``storage_from_string``, hence
Flask-Limiter's RATELIMIT_STORAGE_URI) build this class.
"""

from __future__ import annotations

import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["memory"]  # replaces MemoryStorage in limits' scheme registry

    _next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # called by every count it makes
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

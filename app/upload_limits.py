"""Upload rate limits, counted in Flask-Limiter's storage (RATELIMIT_STORAGE_URI).

The photo API's key is the access token's client_id, known only once the token is checked,
so the view hits the limit itself rather than through a decorator (whose key function runs
before authentication). The "My photos" page counts per signed-in user. Every upload attempt
counts, refused ones too: decoding the image is what costs.
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import parse_many

from app.errors import TesseraError
from app.extensions import limiter
from app.settings import settings


class UploadRateExceeded(TesseraError):
    status = 429
    error = "too_many_requests"

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str | list[str]]:
        return {"Retry-After": str(self.retry_after)}


def hit(setting: str, scope: str, key: str) -> None:
    """Count one upload for ``key``; UploadRateExceeded (429, Retry-After) past the limit."""
    # The same key shape as Flask-Limiter's own: deployments sharing a Redis stay apart.
    identifiers = (str(settings().ratelimit_key_prefix), scope, key)
    for item in parse_many(settings().rate_limit(setting)):
        try:
            allowed = limiter.limiter.hit(item, *identifiers)
            reset = limiter.limiter.get_window_stats(item, *identifiers).reset_time
        except Exception:  # storage down: count nothing rather than refuse every upload
            current_app.logger.warning("upload rate limit storage unavailable")
            return
        if not allowed:
            wait = max(1, math.ceil(reset - time.time()))
            raise UploadRateExceeded(
                f"Too many uploads: at most {item.amount} per {item.multiples} "
                f"{item.GRANULARITY.name}; retry in {wait} seconds.",
                wait,
            )

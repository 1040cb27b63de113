"""``GET /metrics`` for Prometheus, only with METRICS_TOKEN and only to its bearer.

The blueprint is registered only when METRICS_TOKEN is set: without it /metrics is an
unknown URL, whatever the method. With it, a scrape must send ``Authorization: Bearer
<METRICS_TOKEN>``; the counts name clients and show their traffic, so nothing is served
to anyone else and nothing is cached.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from app import metrics
from app.errors import error_response
from app.route_policy import declare, json_errors, no_rate_limit
from app.settings import settings

bp = declare(Blueprint("metrics", __name__), json_errors)
CHALLENGE = 'Bearer realm="metrics"'


def _presented_token() -> bytes | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" and token.strip() else None


@bp.get("/metrics")
@no_rate_limit("Prometheus scrapes every few seconds; a 32+ character token is not guessable")
def scrape() -> ResponseReturnValue:
    """Every counter and histogram, in Prometheus's text format."""
    presented = _presented_token()
    expected = str(settings().metrics_token).encode()
    if presented is None:
        return error_response(
            401, "invalid_request", "Send Authorization: Bearer <METRICS_TOKEN>.",
            {"WWW-Authenticate": CHALLENGE},
        )  # fmt: skip
    if not hmac.compare_digest(presented, expected):
        return error_response(
            401, "invalid_token", "The metrics token is not valid.",
            {"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )  # fmt: skip
    body, content_type = metrics.exposition()
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response

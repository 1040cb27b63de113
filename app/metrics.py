"""Prometheus counters: what Tessera did, counted where the code learns it.

Each hook is one call at the place that knows the fact (``token_issued`` in the token save
hook, ``sign_in`` in the login service, ...). They do nothing unless METRICS_TOKEN is set:
``init_app`` then builds the instruments (and only then imports prometheus_client), times
every request and counts the photo API's calls by operation and status.

Under gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before the app is loaded, so
every worker writes its counts to files there and ``exposition`` sums them; elsewhere (tests,
``flask run``, the CLI) the counts live in a registry of this process.

The instruments are process-wide, like the registry prometheus_client keeps: a server builds
one app per process, and a test's app replaces the previous test's instruments.

Labels stay bounded: grant types, OAuth error codes, Flask endpoint names (never a raw path),
operation names and registered client ids (tokens go only to authenticated clients).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from app.settings import settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5)  # seconds; +Inf is added
UNMATCHED = "none"  # the endpoint label of a request that matched no route
# Who revoked: a client at /revoke (RFC 7009), a user on My apps, an admin in the console.
TOKEN_ENDPOINT, MY_APPS, ADMIN = "token_endpoint", "my_apps", "admin"
_STARTED = "tessera.metrics.started"  # WSGI environ: perf_counter() when the request came in
_OPERATION = "tessera.metrics.operation"  # WSGI environ: the photo API operation it ran


class Instruments:
    """The counters and the latency histogram, registered in ``registry`` (None: multiprocess
    mode, where they are written to files and collected from the directory)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        from prometheus_client import Counter, Histogram

        self.registry = registry
        self.tokens_issued = Counter(
            "tessera_tokens_issued", "Token responses issued, by grant type and client",
            ["grant_type", "client_id"], registry=registry,
        )  # fmt: skip
        self.token_errors = Counter(
            "tessera_token_errors", "Error answers of /token, by OAuth error code",
            ["error"], registry=registry,
        )  # fmt: skip
        self.introspections = Counter(
            "tessera_introspections", "Introspection answers, by whether the token was active",
            ["active"], registry=registry,
        )  # fmt: skip
        self.api_calls = Counter(
            "tessera_api_calls", "Photo API calls, by operation and HTTP status",
            ["operation", "status"], registry=registry,
        )  # fmt: skip
        self.sign_ins = Counter(
            "tessera_sign_ins", "Password checks at sign-in, by result (ok or failed)",
            ["result"], registry=registry,
        )  # fmt: skip
        self.rate_limited = Counter(
            "tessera_rate_limited_requests", "Requests refused with 429 by a throttle, by endpoint",
            ["endpoint"], registry=registry,
        )  # fmt: skip
        self.refresh_reuse = Counter(
            "tessera_refresh_token_reuse_detections",
            "Spent refresh tokens presented again (each revoked its authorization)",
            registry=registry,
        )
        self.revocations = Counter(
            "tessera_revocations", "Revocations, by who asked: token_endpoint, my_apps or admin",
            ["via"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "tessera_request_duration_seconds", "Time to answer a request, by Flask endpoint",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        # Series that exist from the start, so rate() and alerts see a 0 before the first event.
        for result in ("ok", "failed"):
            self.sign_ins.labels(result)
        for active in ("true", "false"):
            self.introspections.labels(active)
        for via in (TOKEN_ENDPOINT, MY_APPS, ADMIN):
            self.revocations.labels(via)

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: labels() validates and locks on every call (2.5 µs
        of a 4.3 µs count, 4 of a 8.6 µs observation, measured in multiprocess mode). The
        labels are bounded, so is this."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


_instruments: Instruments | None = None


def init_app(app: Flask) -> bool:
    """Count for ``app`` when METRICS_TOKEN is set (True); otherwise every hook is a no-op."""
    global _instruments
    _instruments = None
    if not settings(app).metrics_token:
        return False
    _instruments = Instruments(None if multiprocess() else _own_registry())
    app.wsgi_app = _Timed(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(_observe)
    return True


def multiprocess() -> bool:
    """Whether counts go to PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets it).

    prometheus_client decides how it stores values when it is first imported; imported before
    the variable was set, each worker would count alone and a scrape would see one worker.
    """
    from prometheus_client import values

    wanted = MULTIPROCESS_DIRECTORY in os.environ
    if wanted and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            f"{MULTIPROCESS_DIRECTORY} was set after prometheus_client was imported; "
            "set it before the app is loaded (gunicorn.conf.py does)"
        )
    return wanted


def _own_registry() -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(auto_describe=True)


def exposition() -> tuple[bytes, str]:
    """The text format of every count (every worker's, in multiprocess mode) and its type:
    format 0.0.4, which every Prometheus reads (the names need none of 1.0.0's escaping)."""
    from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    assert _instruments is not None, "exposition without init_app"
    registry = _instruments.registry
    if registry is None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


class _Timed:
    """WSGI middleware: note when a request came in, before Flask does anything with it."""

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ[_STARTED] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def _observe(response: Response) -> Response:
    """The request's latency by endpoint, and the photo API call's status (after_request;
    registered first, so it runs after every other hook)."""
    if _instruments is not None:
        environ = request.environ
        endpoint = request.endpoint or UNMATCHED
        started = environ.get(_STARTED)
        if started is not None:
            elapsed = time.perf_counter() - started
            _instruments.child(_instruments.latency, endpoint).observe(elapsed)
        operation = environ.get(_OPERATION)
        if operation is not None:
            status = str(response.status_code)
            _instruments.child(_instruments.api_calls, operation, status).inc()
    return response


# -- the hooks: one call each where the fact is known ---------------------------------------
def token_issued(grant_type: str, client_id: str) -> None:
    if _instruments is not None:
        _instruments.child(_instruments.tokens_issued, grant_type, client_id).inc()


def token_error(error: str) -> None:
    if _instruments is not None:
        _instruments.token_errors.labels(error).inc()


def introspection(active: bool) -> None:
    if _instruments is not None:
        _instruments.child(_instruments.introspections, "true" if active else "false").inc()


def api_operation(name: str) -> None:
    """This request runs the photo API operation ``name``; counted with its final status."""
    if _instruments is not None:
        request.environ[_OPERATION] = name


def sign_in(ok: bool) -> None:
    if _instruments is not None:
        _instruments.sign_ins.labels("ok" if ok else "failed").inc()


def rate_limited() -> None:
    """A throttle refused the current request (429)."""
    if _instruments is not None:
        _instruments.rate_limited.labels(request.endpoint or UNMATCHED).inc()


def refresh_token_reused() -> None:
    if _instruments is not None:
        _instruments.refresh_reuse.inc()


def revocation(via: str) -> None:
    if _instruments is not None:
        _instruments.revocations.labels(via).inc()

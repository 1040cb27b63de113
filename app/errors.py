"""One error vocabulary, mapped to HTTP once.

Domain code raises :class:`TesseraError` subclasses (or werkzeug's HTTP exceptions);
``register_error_handlers`` renders them as JSON ``{"error", "error_description"}`` where the
route declares ``json_errors`` and as an HTML page where it declares ``html_errors``
(app/route_policy.py). No response ever carries a traceback or SQL text: unexpected
exceptions are logged and answered with a generic 500.

    TesseraError
     ├── ValidationError        400 invalid_request
     └── ServiceUnavailable     503 temporarily_unavailable
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from app import metrics
from app.request_log import note_error
from app.route_policy import JSON, error_surface

# Seconds a client is asked to wait after a 503 (the database is briefly unreachable).
SERVICE_UNAVAILABLE_RETRY_AFTER = 5

# RFC 6749 §5.2, RFC 6750 §3: error_description is printable ASCII without '"' and '\'; a
# description that quotes the request (a parameter's name) must not carry anything else.
_UNSAFE_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def safe_error_description(text: str) -> str:
    """``text`` with every character outside RFC 6749 §5.2's set replaced by "?"."""
    return _UNSAFE_DESCRIPTION.sub("?", text)


# RFC 6749 §5.2 / §4.1.2.1 codes where they fit, plain names otherwise.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "too_many_requests",
    500: "server_error",
    503: "temporarily_unavailable",
}

FRIENDLY_TITLES = {
    400: "That request did not make sense",
    401: "Please sign in",
    403: "You cannot open this page",
    404: "Page not found",
    405: "That method is not allowed here",
    413: "That was too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}


class TesseraError(Exception):
    """Base of the errors the domain raises for a client or user to see."""

    status = 400
    error = "invalid_request"

    def __init__(
        self, description: str, *, error: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(description)
        self.description = description
        if error:
            self.error = error
        if status:
            self.status = status

    def headers(self) -> Mapping[str, str | list[str]]:
        """Extra response headers (a challenge, Retry-After)."""
        return {"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER)} if self.status == 503 else {}

    def details(self) -> Mapping[str, int | str]:
        """Extra members of the JSON error body (a quota's numbers)."""
        return {}


class ValidationError(TesseraError):
    """Input that breaks a rule; the description says which."""


class ServiceUnavailable(TesseraError):
    status = 503
    error = "temporarily_unavailable"


class TooManyAttempts(TesseraError):
    """Too many failed guesses from here: wait ``retry_after`` seconds (RFC 6585 §4)."""

    status = 429
    error = "too_many_requests"

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> Mapping[str, str | list[str]]:
        return {"Retry-After": str(self.retry_after)}


def wants_json() -> bool:
    """Whether the route declared JSON errors (``app.route_policy``), or its path did."""
    return error_surface(current_app, request) == JSON


def error_response(
    status: int,
    error: str,
    description: str,
    headers: Mapping[str, str | list[str]] | None = None,
    details: Mapping[str, int | str] | None = None,
) -> Response:
    """Render one error in the shape the caller expects (JSON or HTML)."""
    if status == 429:  # every throttle's refusal is rendered here, and nothing else is a 429
        metrics.rate_limited()
    note_error(error)
    if wants_json():
        body = {**(details or {}), "error": error}
        response = jsonify(body | {"error_description": safe_error_description(description)})
    else:
        title = FRIENDLY_TITLES.get(status, "Something went wrong")
        html = render_template("errors/error.html", status=status, title=title, message=description)
        response = Response(html, mimetype="text/html")
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})  # a list value: one header line per item
    return response


def http_exception_response(exc: HTTPException) -> Response:
    """The error page or JSON error of an HTTPException, by the route's error surface."""
    status = exc.code or 500
    headers: dict[str, str] = {}
    if exc.response is not None and exc.response.headers:
        headers = {k: v for k, v in exc.response.headers.items() if k.lower() != "content-type"}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    description = exc.description or FRIENDLY_TITLES.get(status, "")
    return error_response(status, ERROR_CODES.get(status, "error"), description, headers)


def _handle_tessera_error(exc: TesseraError) -> Response:
    return error_response(exc.status, exc.error, exc.description, exc.headers(), exc.details())


def _handle_database_down(exc: OperationalError) -> Response:
    current_app.logger.error("database unavailable: %s", exc.orig.__class__.__name__)
    return error_response(
        503,
        "temporarily_unavailable",
        "The service is briefly unavailable; please retry.",
        {"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER)},
    )


def _handle_bad_data(exc: DataError) -> Response:
    """A value the database refuses (e.g. PostgreSQL and NUL bytes): the input was bad."""
    current_app.logger.info("database refused a value: %s", exc.orig.__class__.__name__)
    return error_response(
        400, "invalid_request", "The request contains a value that is not allowed."
    )


def _handle_unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "server_error", "An unexpected error occurred.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_exception_response)
    app.register_error_handler(TesseraError, _handle_tessera_error)
    app.register_error_handler(OperationalError, _handle_database_down)
    app.register_error_handler(DataError, _handle_bad_data)
    app.register_error_handler(Exception, _handle_unexpected)

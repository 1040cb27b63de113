"""gunicorn's logger, without secrets in the URLs it writes (LG-01, pen-test case 13).

gunicorn logs each request line in full: ``/end-session?id_token_hint=<ID token>``,
``/device?user_code=<pending code>``, or a careless client's ``?access_token=``. This logger
replaces the values of secret query parameters with ``REDACTED`` in every URL-bearing access
log atom (request line, query string, Referer, Location, the WSGI environ) and in error log
messages, and hides credential headers entirely. Names and other values stay readable.
A parameter holding a URL of ours (``next=/device?user_code=...``) is scrubbed inside too.

Use it with ``gunicorn --logger-class app.gunicorn_logging.Logger``.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, unquote_plus

from gunicorn import glogging

REDACTED = "REDACTED"
# Query parameters whose values are secrets or one-shot references to one (request_uri).
SECRET_PARAMETERS = frozenset(
    {
        "access_token", "refresh_token", "id_token", "id_token_hint", "logout_hint", "token",
        "code", "code_verifier", "device_code", "user_code", "client_secret",
        "client_assertion", "assertion", "request", "request_uri", "password",
        "subject_token", "actor_token", "registration_access_token",
    }
)  # fmt: skip
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "dpop"})
URL_HEADERS = frozenset({"referer", "location", "content-location"})
_SECRET_IN_TEXT = re.compile(
    r"(?i)([?&#;](?:" + "|".join(sorted(SECRET_PARAMETERS)) + r")=)[^&#;\s\"']*"
)


def scrub_query(query: str) -> str:
    """``a=1&code=xyz`` → ``a=1&code=REDACTED``; names match as the app decodes them."""
    parts = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if value and unquote_plus(name).strip().lower() in SECRET_PARAMETERS:
            value = REDACTED
        elif "%3f" in value.lower() or "?" in value:  # a URL in a parameter, e.g. ``next``
            inner = unquote_plus(value)
            scrubbed = scrub_url(inner)
            if scrubbed != inner:
                value = quote(scrubbed, safe="")
        parts.append(name + sep + value)
    return "&".join(parts)


def scrub_url(url: str) -> str:
    """Scrub the query and the fragment of a URL or a request target."""
    base, question, rest = url.partition("?")
    if not question:
        base, hash_, fragment = url.partition("#")
        return base + hash_ + scrub_query(fragment) if hash_ else url
    query, hash_, fragment = rest.partition("#")
    return base + "?" + scrub_query(query) + hash_ + (scrub_query(fragment) if hash_ else "")


def scrub_text(text: str) -> str:
    """Free text (an error message) that may quote a URL."""
    return _SECRET_IN_TEXT.sub(lambda match: match.group(1) + REDACTED, text)


def scrub_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access log atoms, scrubbed; ``{name}i/o/e`` are headers and environ."""
    scrubbed = dict(atoms)
    for key, value in atoms.items():
        if not isinstance(value, str):
            continue
        if key == "r":
            method, _, rest = value.partition(" ")
            target, space, protocol = rest.rpartition(" ")
            scrubbed[key] = f"{method} {scrub_url(target)}{space}{protocol}"
        elif key == "q":
            scrubbed[key] = scrub_query(value)
        elif key == "f":
            scrubbed[key] = scrub_url(value)
        elif key.startswith("{") and key[-2:] in ("}i", "}o", "}e"):
            scrubbed[key] = _scrub_named(key[1:-2], key[-1], value)
    return scrubbed


def _scrub_named(name: str, kind: str, value: str) -> str:
    header = name[5:].replace("_", "-") if kind == "e" and name.startswith("http_") else name
    if kind == "e" and header == name:  # a WSGI variable, not a header
        if name == "query_string":
            return scrub_query(value)
        return scrub_url(value) if name in ("raw_uri", "request_uri") else value
    if header in SECRET_HEADERS:
        return REDACTED
    return scrub_url(value) if header in URL_HEADERS else value


class _ScrubMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class Logger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's ``glogging.Logger`` with scrubbed access atoms and error messages."""

    _scrub = _ScrubMessages()

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(self._scrub)  # a no-op when already there (config reload)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        return scrub_atoms(super().atoms(resp, req, environ, request_time))

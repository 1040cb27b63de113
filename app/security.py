"""Security primitives: password hashing, token digests, safe redirects, response headers."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import cache
from urllib.parse import unquote, urlsplit, urlunsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Response

from app.config import is_loopback

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# No form-action: browsers apply it to the redirects after a form POST, and sign-in and
# consent must be able to redirect to a client's registered redirect URI.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend a real verification's time, so unknown users answer as slowly as known ones."""
    verify_password(_dummy_hash(), password)


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token; 32 bytes = 256 bits."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """SHA-256 hex digest used to store and look up high-entropy tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def safe_next_path(target: str | None, default: str = "/") -> str:
    """Return ``target`` as a same-site path without dot segments, else ``default``.

    Browsers read ``\\`` as ``/``, drop tabs and newlines, undo percent-encoding in surprising
    places and remove dot segments (``/.//evil`` is the path ``//evil``, which a later
    redirect reads as a host), so the checks run on the target and on a repeatedly decoded
    copy, each with its dot segments removed: ``//evil``, ``/\\evil``, ``%2F%2Fevil``,
    ``/.//evil``, ``/%2e%2e//evil``, ``https://evil`` and control characters all fall back
    to ``default``.
    """
    if not target or len(target) > 2048:
        return default
    decoded = target
    for _ in range(3):
        decoded = unquote(decoded)
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return default
    for candidate in (target, decoded):
        if candidate.startswith("//"):  # urlsplit would read "///evil" as an empty host
            return default
        parts = urlsplit(candidate)
        path = remove_dot_segments(parts.path)
        if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
            return default
    parts = urlsplit(target)
    return urlunsplit(("", "", remove_dot_segments(parts.path), parts.query, parts.fragment))


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, with ``%2e`` read as ``.`` as browsers do (WHATWG URL)."""
    segments = path.split("/")
    kept: list[str] = []
    for index, segment in enumerate(segments):
        dots = segment.lower().replace("%2e", ".")
        if dots in (".", ".."):
            if dots == ".." and len(kept) > 1:
                kept.pop()
            if index == len(segments) - 1:
                kept.append("")  # "/a/." is "/a/"
            continue
        kept.append(segment)
    return "/".join(kept)


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string comparison, except that a loopback http URI may vary its port.

    RFC 9700 §4.1.3 requires exact matching; RFC 8252 §7.3 lets native apps pick any port
    on the loopback interface at request time. Nothing else may differ: not the host
    (``localhost`` is not ``127.0.0.1``), path, query, user-info or scheme.
    """
    if registered == requested:
        return True
    try:
        reg, req = urlsplit(registered), urlsplit(requested)
        req.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if reg.scheme != "http" or not is_loopback(reg.hostname):
        return False
    host = reg.netloc if reg.port is None else reg.netloc.rsplit(":", 1)[0]
    if not re.fullmatch(re.escape(host) + r"(?::\d{1,5})?", req.netloc):
        return False
    return (req.scheme, req.path, req.query, req.fragment) == (
        reg.scheme,
        reg.path,
        reg.query,
        reg.fragment,
    )


def apply_security_headers(response: Response, *, https: bool) -> Response:
    """Headers for every response; anti-framing and CSP on HTML."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Cache-Control", "no-store")
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response

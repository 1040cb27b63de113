"""Tessera's settings, declared once: name, type, default and a one-line description.

``app.config.DEFAULTS`` and the table in docs/configuration.md are both derived from
:class:`Settings`. ``app.config.load_config`` builds one frozen instance at start-up, after
validating it; code reads it through :func:`settings` (typed), never ``current_app.config``.
A setting's key is its field name in upper case (``oauth_issuer`` is ``OAUTH_ISSUER``).
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields
from typing import Any, NewType

from flask import Flask, current_app

EXTENSION_KEY = "tessera.settings"

# A rate limit in the limits syntax, e.g. "5 per minute; 20 per hour".
RateLimit = NewType("RateLimit", str)


def _setting(default: Any, description: str) -> Any:
    """A declared setting: ``default`` is what DEFAULTS holds (None: derived at start-up)."""
    return field(metadata={"default": default, "description": description})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting Tessera reads, after defaults, instance/config.py and FLASK_* apply."""

    # Secrets and storage
    secret_key: str = _setting(
        None, "Signs sessions and CSRF tokens; generated into instance/secret_key when unset"
    )
    sqlalchemy_database_uri: str = _setting(
        None,
        "`sqlite:///` or `postgresql+psycopg://` URL; instance/tessera.sqlite when unset",
    )
    sqlite_busy_timeout_ms: int = _setting(15_000, "Milliseconds SQLite waits for a lock")
    key_encryption_key: str | None = _setting(
        None,
        "Seals private signing keys in the database (AES-GCM, HKDF-SHA256); SECRET_KEY when unset",
    )
    key_encryption_keys_old: tuple[str, ...] = _setting(
        [], "Previous key encryption keys, still opening keys until `flask keys rewrap`"
    )
    # Protocol
    bind: str = _setting(
        "127.0.0.1:5000",
        "host:port the server listens on (`make run` passes HOST:PORT); only derives OAUTH_ISSUER",
    )
    oauth_issuer: str = _setting(
        None, "The issuer URL (https; http only on loopback); http://BIND when unset"
    )
    oauth_resource_audience: str = _setting(
        None,
        "aud of access tokens for the photo API; the issuer + the API path when unset",
    )
    oauth_extra_resources: tuple[str, ...] = _setting(
        [], "RFC 8707: other resource servers' identifiers a client may name in resource"
    )
    oauth_access_token_ttl: int = _setting(600, "Seconds an access token lives")
    oauth_id_token_ttl: int = _setting(600, "Seconds an ID token lives")
    oauth_code_ttl: int = _setting(60, "Seconds an authorization code lives (at most 600)")
    oauth_refresh_token_ttl: int = _setting(
        14 * 24 * 3600, "Seconds each refresh token lives, unless rotated sooner"
    )
    oauth_refresh_token_max_age: int = _setting(
        90 * 24 * 3600, "Seconds an authorization's whole refresh token family may live"
    )
    # DPoP (RFC 9449): sender-constrained tokens
    dpop_enabled: bool = _setting(
        True,
        "DPoP (RFC 9449); false: the DPoP header is ignored, tokens are Bearer, not advertised",
    )
    dpop_proof_max_age: int = _setting(
        300, "Seconds a DPoP proof's iat may lie in the past (5 s ahead allowed; at most 3600)"
    )
    dpop_nonce_required: bool = _setting(
        False, "True: DPoP proofs must carry a server nonce (DPoP-Nonce)"
    )
    replay_cache_uri: str | None = _setting(
        None,
        "Where used DPoP proof and client assertion ids are kept: unset = the database, or `redis://host:6379/0`",
    )
    # Pushed authorization requests (RFC 9126)
    par_enabled: bool = _setting(True, "POST /par (RFC 9126); 404 and not advertised when false")
    par_required: bool = _setting(False, "Every /authorize must name a pushed request_uri")
    par_request_ttl: int = _setting(60, "Seconds a request_uri may first be presented (5..600)")
    # Sign-in
    login_session_lifetime: int = _setting(12 * 3600, "Seconds a sign-in lasts, absolute")
    password_min_length: int = _setting(8, "Shortest password accepted")
    password_max_length: int = _setting(1024, "Longest password accepted")
    login_limit_per_account: RateLimit = _setting(
        "5 per minute; 20 per hour", "Failed sign-ins per account + address (growing delays)"
    )
    login_limit_per_ip: RateLimit = _setting(
        "100 per 10 minutes", "Failed sign-ins per address, for any accounts"
    )
    # Client endpoints (token, introspection, revocation)
    oauth_limit_per_client: RateLimit = _setting(
        "600 per minute", "Client endpoint calls naming one client_id"
    )
    oauth_limit_per_ip: RateLimit = _setting(
        "1200 per minute", "Client endpoint calls from one address, per endpoint"
    )
    client_auth_failure_limit: RateLimit = _setting(
        "20 per 10 minutes", "Failed client authentications (401) per client_id + address"
    )
    client_auth_failure_limit_per_ip: RateLimit = _setting(
        "100 per 10 minutes", "Failed client authentications (401) per address"
    )
    # Dynamic client registration (RFC 7591/7592)
    registration_mode: str = _setting(
        "token",
        '"off" (404, not advertised), "token" (needs an initial access token) or "open"',
    )
    registration_limit_per_ip: RateLimit = _setting(
        "20 per hour", "POST /register calls from one address"
    )
    # Outbound fetches (a client's jwks_uri)
    outbound_allow_loopback: bool = _setting(
        None, "Fetch from loopback addresses; unset: only when OAUTH_ISSUER is loopback http"
    )
    # Device authorization grant (RFC 8628)
    device_flow_enabled: bool = _setting(
        True, "/device_authorization, /device and the device_code grant; 404 when false"
    )
    device_code_ttl: int = _setting(600, "Seconds a device code and its user code live")
    device_poll_interval: int = _setting(
        5, "Seconds between device polls; +5 for a device told to slow_down"
    )
    device_code_limit_per_ip: RateLimit = _setting(
        "20 per 10 minutes", "Typed user codes that match nothing, per address"
    )
    # Photo store
    photo_max_bytes: int = _setting(10 * 1024 * 1024, "Largest accepted photo upload, in bytes")
    photo_max_pixels: int = _setting(40_000_000, "Decompression-bomb guard: largest width x height")
    photo_strip_gps: bool = _setting(True, "Remove EXIF location from stored photos")
    photo_storage_quota: int = _setting(
        1 << 30, "Bytes of photos per user (admins may override per user)"
    )
    photo_upload_limit_per_client: RateLimit = _setting(
        "60 per hour", "API uploads per client_id of the token"
    )
    photo_upload_limit_per_user: RateLimit = _setting(
        "60 per hour", '"My photos" page uploads per user'
    )
    max_form_parts: int = _setting(50, "Multipart parts per request (werkzeug's default is 1,000)")
    usage_flush_seconds: int = _setting(
        10, "API usage counts are summed per worker and written every N seconds (0: each call)"
    )
    # Rate-limit storage
    ratelimit_storage_uri: str = _setting(
        "memory://",
        "`memory://` per worker, or `redis://host:6379/0` shared across workers and hosts",
    )
    ratelimit_headers_enabled: bool = _setting(True, "Send X-RateLimit-* headers")
    ratelimit_in_memory_fallback_enabled: bool = _setting(
        True, "Count in per-worker memory while the rate-limit storage is unreachable"
    )
    ratelimit_swallow_errors: bool = _setting(
        True, "A count after the response that finds Redis gone is logged, not a 500"
    )
    ratelimit_key_prefix: str = _setting("tessera", "Prefix of rate-limit keys in shared storage")
    # Monitoring
    metrics_token: str | None = _setting(
        None,
        "Bearer token Prometheus sends to GET /metrics (32+ characters); unset: nothing is "
        "counted and /metrics is 404",
    )
    # Request logs
    request_log: bool = _setting(
        True,
        "One log line per request (logger tessera.request, stdout) and the X-Request-ID header",
    )
    log_format: str = _setting(
        "json", '"json" (one object per line) or "text" (one readable line); `make run`: text'
    )
    # HTTP
    max_content_length: int = _setting(
        64 * 1024,
        "Request bodies above this many bytes are a 413 (uploads raise it for themselves)",
    )
    proxy_fix_x_for: int = _setting(0, "Trusted proxies in front of us that set X-Forwarded-For")
    wtf_csrf_time_limit: int | None = _setting(
        None, "Seconds a CSRF token lives; unset: as long as the session"
    )

    def rate_limit(self, key: str) -> str:
        """The rate limit setting named ``key`` (e.g. "LOGIN_LIMIT_PER_IP")."""
        value = getattr(self, key.lower())
        if declared(key.lower()).type != "RateLimit":
            raise KeyError(f"{key} is not a rate limit setting")
        return str(value)


def declared(name: str) -> Field[Any]:
    """The declaration of the setting ``name`` (a field name)."""
    return next(f for f in fields(Settings) if f.name == name)


def settings(app: Flask | None = None) -> Settings:
    """The running app's settings (``app``, or the current app)."""
    found: Settings = (app or current_app).extensions[EXTENSION_KEY]
    return found

"""Configuration: the declared defaults, then instance/config.py, then ``FLASK_*`` variables.

Every setting is declared once in app/settings.py (docs/configuration.md is generated from it).
``load_config`` fills ``app.config`` (Flask and its extensions read it), ``validate`` fails fast
at start-up with a :class:`ConfigError` naming the offending key, so a bad deployment never
gets as far as serving a request, and the typed :class:`Settings` are built once from it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from limits import parse_many

from app.request_log import LOG_FORMATS
from app.settings import EXTENSION_KEY, Settings

# Where the photo API is mounted, under the issuer: its routes, its OpenAPI ``servers`` URL
# and the default ``OAUTH_RESOURCE_AUDIENCE`` all read this one spelling.
API_PATH = "/api/v1"

# The defaults, from the one declaration (app/settings.py): key -> default (None: derived).
DEFAULTS: dict[str, Any] = {f.name.upper(): f.metadata["default"] for f in fields(Settings)}

# Each declared type: how the configuration table names it, and the values it accepts.
KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("string", lambda v: isinstance(v, str)),
    "str | None": ("string", lambda v: v is None or isinstance(v, str)),
    "RateLimit": ("rate limit", lambda v: isinstance(v, str)),
    "int": ("integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "int | None": ("integer", lambda v: v is None or KINDS["int"][1](v)),
    "bool": ("boolean", lambda v: isinstance(v, bool)),
    "tuple[str, ...]": (
        "list of strings",
        lambda v: isinstance(v, list | tuple) and all(isinstance(i, str) for i in v),
    ),
}

LOOPBACK_HOSTS = {"localhost"}
NON_NEGATIVE_INTEGERS = ("PROXY_FIX_X_FOR", "USAGE_FLUSH_SECONDS", "PHOTO_STORAGE_QUOTA")
POSITIVE_INTEGERS = (
    "LOGIN_SESSION_LIFETIME",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "OAUTH_ACCESS_TOKEN_TTL",
    "OAUTH_ID_TOKEN_TTL",
    "OAUTH_CODE_TTL",
    "OAUTH_REFRESH_TOKEN_TTL",
    "OAUTH_REFRESH_TOKEN_MAX_AGE",
    "DPOP_PROOF_MAX_AGE",
    "PHOTO_MAX_BYTES",
    "PHOTO_MAX_PIXELS",
    "MAX_FORM_PARTS",
    "DEVICE_CODE_TTL",
    "DEVICE_POLL_INTERVAL",
)
SQLALCHEMY_SCHEMES = ("sqlite", "postgresql+psycopg")
REPLAY_CACHE_SCHEMES = ("redis://", "rediss://")
RATE_LIMITS = tuple(f.name.upper() for f in fields(Settings) if f.type == "RateLimit")
REGISTRATION_MODES = ("off", "token", "open")
METRICS_TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{32,}")  # visible ASCII: a header's token


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message starts with its key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in precedence order, then derive and validate."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if overrides:
        app.config.from_mapping(overrides)
    _derive(app)
    validate(app.config)
    install_settings(app)


def install_settings(app: Flask) -> None:
    """Build the typed settings from ``app.config`` and store them on the app."""
    app.extensions[EXTENSION_KEY] = build_settings(app.config)


def build_settings(config: Mapping[str, Any]) -> Settings:
    """The frozen :class:`Settings` of a validated ``config``."""
    values: dict[str, Any] = {}
    for declaration in fields(Settings):
        value = config[declaration.name.upper()]
        values[declaration.name] = tuple(value) if isinstance(value, list) else value
    return Settings(**values)


def check_types(config: Mapping[str, Any]) -> None:
    """ConfigError, naming the key, for the first value not of its declared type."""
    for declaration in fields(Settings):
        key = declaration.name.upper()
        kind, accepts = KINDS[str(declaration.type)]
        if not accepts(config[key]):
            article = "an" if kind[0] in "aeiou" else "a"
            raise ConfigError(
                key, "must be true or false" if kind == "boolean" else f"must be {article} {kind}"
            )


def _derive(app: Flask) -> None:
    """Fill settings whose defaults depend on others or on the instance folder."""
    config = app.config
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path) / "secret_key")
    if isinstance(config["KEY_ENCRYPTION_KEYS_OLD"], str):  # one old key from the environment
        config["KEY_ENCRYPTION_KEYS_OLD"] = [config["KEY_ENCRYPTION_KEYS_OLD"]]
    uri = config["SQLALCHEMY_DATABASE_URI"] or f"sqlite:///{app.instance_path}/tessera.sqlite"
    config["SQLALCHEMY_DATABASE_URI"] = normalize_database_uri(uri)
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(config))
    if not config["OAUTH_ISSUER"]:
        config["OAUTH_ISSUER"] = issuer_for_bind(config["BIND"])
    config["OAUTH_ISSUER"] = str(config["OAUTH_ISSUER"]).rstrip("/")
    if not config["OAUTH_RESOURCE_AUDIENCE"]:
        config["OAUTH_RESOURCE_AUDIENCE"] = config["OAUTH_ISSUER"] + API_PATH
    secure = config["OAUTH_ISSUER"].startswith("https://")
    if config["OUTBOUND_ALLOW_LOOPBACK"] is None:
        parts = urlsplit(config["OAUTH_ISSUER"])
        config["OUTBOUND_ALLOW_LOOPBACK"] = parts.scheme == "http" and is_loopback(parts.hostname)
    config["SESSION_COOKIE_SECURE"] = secure
    config["SESSION_COOKIE_NAME"] = "__Host-tessera" if secure else "tessera"
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["PERMANENT_SESSION_LIFETIME"] = config["LOGIN_SESSION_LIFETIME"]
    config["REMEMBER_COOKIE_DURATION"] = 0


def issuer_for_bind(bind: Any) -> str:
    """The default issuer of a server listening on ``bind`` (``host:port``): http on loopback.

    A wildcard host (``0.0.0.0``, ``::``) serves loopback too, so the issuer names 127.0.0.1;
    any other host needs an https OAUTH_ISSUER set by the operator.
    """
    host, colon, port = str(bind).rpartition(":") if isinstance(bind, str) else ("", "", "")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("BIND", "use host:port, e.g. 127.0.0.1:8000")
    if not host or _is_wildcard(host):
        host = "127.0.0.1"
    if not is_loopback(host):
        raise ConfigError(
            "OAUTH_ISSUER", f"set it to the public https URL to serve on {bind} (off loopback)"
        )
    return f"http://{f'[{host}]' if ':' in host else host}:{int(port)}"


def _instance_secret_key(path: Path) -> str:
    """Read the instance's secret key, creating it (mode 0600) on first start.

    Several gunicorn workers may start at once: O_EXCL makes exactly one of them write it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def normalize_database_uri(uri: str) -> str:
    """Accept the common ``postgres://`` spellings and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Per-backend engine settings: SQLite waits for locks, PostgreSQL checks pooled links."""
    uri = str(config["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("sqlite"):
        timeout = int(config["SQLITE_BUSY_TIMEOUT_MS"]) / 1000
        return {"connect_args": {"timeout": timeout}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate(config: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first invalid setting: its declared type, then its rules."""
    check_types(config)
    _validate_issuer(str(config["OAUTH_ISSUER"]))
    _validate_extra_resources(config["OAUTH_EXTRA_RESOURCES"])
    if len(str(config["SECRET_KEY"])) < 32:
        raise ConfigError("SECRET_KEY", "must be at least 32 characters")
    _validate_key_encryption(config)
    uri = str(config["SQLALCHEMY_DATABASE_URI"])
    if not uri.startswith(SQLALCHEMY_SCHEMES):
        raise ConfigError("SQLALCHEMY_DATABASE_URI", "use sqlite:/// or postgresql+psycopg://")
    storage = str(config["RATELIMIT_STORAGE_URI"])
    if not storage.startswith(("memory://", "redis://", "rediss://", "redis+sentinel://")):
        raise ConfigError("RATELIMIT_STORAGE_URI", "use memory:// or redis://host:port/db")
    for key in RATE_LIMITS:
        try:
            parse_many(str(config[key]))
        except ValueError:
            raise ConfigError(key, 'use the limits syntax, e.g. "10 per minute"') from None
    for key in POSITIVE_INTEGERS:
        if config[key] <= 0:
            raise ConfigError(key, "must be a positive integer")
    if config["PASSWORD_MIN_LENGTH"] > config["PASSWORD_MAX_LENGTH"]:
        raise ConfigError("PASSWORD_MIN_LENGTH", "must not exceed PASSWORD_MAX_LENGTH")
    if config["OAUTH_CODE_TTL"] > 600:
        raise ConfigError("OAUTH_CODE_TTL", "at most 600 seconds (RFC 6749 §4.1.2)")
    _validate_par(config)
    _validate_device_flow(config)
    for key in NON_NEGATIVE_INTEGERS:
        if config[key] < 0:
            raise ConfigError(key, "must be a non-negative integer")
    if config["REGISTRATION_MODE"] not in REGISTRATION_MODES:
        raise ConfigError("REGISTRATION_MODE", f"use one of {', '.join(REGISTRATION_MODES)}")
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError("LOG_FORMAT", f"use one of {', '.join(LOG_FORMATS)}")
    _validate_dpop(config)
    _validate_metrics_token(config["METRICS_TOKEN"])


def _validate_metrics_token(token: Any) -> None:
    """A guessable token would publish every client's traffic; one header field, no spaces."""
    if token is not None and not METRICS_TOKEN_PATTERN.fullmatch(str(token)):
        raise ConfigError(
            "METRICS_TOKEN", "must be 32 or more printable characters without spaces (or unset)"
        )


def _validate_key_encryption(config: Mapping[str, Any]) -> None:
    current = config["KEY_ENCRYPTION_KEY"]
    if current is not None and (not isinstance(current, str) or len(current) < 32):
        raise ConfigError("KEY_ENCRYPTION_KEY", "must be at least 32 characters (or unset)")
    old = config["KEY_ENCRYPTION_KEYS_OLD"]
    if not isinstance(old, list) or not all(isinstance(k, str) and len(k) >= 32 for k in old):
        raise ConfigError(
            "KEY_ENCRYPTION_KEYS_OLD", 'must be a list of keys of 32+ characters, e.g. ["..."]'
        )


def _validate_dpop(config: Mapping[str, Any]) -> None:
    """RFC 9449 settings: the replay cache is the database or Redis."""
    if config["DPOP_PROOF_MAX_AGE"] > 3600:
        raise ConfigError("DPOP_PROOF_MAX_AGE", "at most 3600 seconds")
    uri = config["REPLAY_CACHE_URI"]
    if uri is not None and not uri.startswith(REPLAY_CACHE_SCHEMES):
        raise ConfigError("REPLAY_CACHE_URI", "leave unset (the database) or use redis://host/db")


def _validate_device_flow(config: Mapping[str, Any]) -> None:
    if config["DEVICE_CODE_TTL"] > 1800:
        raise ConfigError("DEVICE_CODE_TTL", "at most 1800 seconds (user codes are short)")
    if config["DEVICE_POLL_INTERVAL"] >= config["DEVICE_CODE_TTL"]:
        raise ConfigError("DEVICE_POLL_INTERVAL", "must be shorter than DEVICE_CODE_TTL")


def _validate_issuer(issuer: str) -> None:
    """RFC 8414 §2: an https URL with no query or fragment; http only on loopback."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("OAUTH_ISSUER", "must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ConfigError("OAUTH_ISSUER", "must not have a query or fragment (RFC 8414 §2)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError("OAUTH_ISSUER", "plain http is refused unless the host is loopback")


def _validate_extra_resources(resources: Any) -> None:
    """RFC 8707 §2: absolute URIs without a fragment; https, or http on loopback."""
    if not isinstance(resources, list):
        raise ConfigError(
            "OAUTH_EXTRA_RESOURCES", 'must be a list of URIs, e.g. ["https://api.example.com"]'
        )
    for resource in resources:
        problem = _resource_uri_problem(resource)
        if problem:
            raise ConfigError("OAUTH_EXTRA_RESOURCES", f"{resource!r} {problem}")


def _resource_uri_problem(resource: Any) -> str | None:
    try:
        parts = urlsplit(resource) if isinstance(resource, str) else None
        host = parts.hostname if parts else None
    except ValueError:
        parts = host = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return "is not an absolute http(s) URI"
    if "#" in resource:
        return "must not have a fragment (RFC 8707 §2)"
    if parts.scheme == "http" and not is_loopback(host):
        return "uses plain http, which is refused unless the host is loopback"
    return None


def _validate_par(config: Mapping[str, Any]) -> None:
    """RFC 9126: a request_uri lives 5 to 600 seconds (§2.2)."""
    if config["PAR_REQUIRED"] and not config["PAR_ENABLED"]:
        raise ConfigError("PAR_REQUIRED", "needs PAR_ENABLED")
    ttl = config["PAR_REQUEST_TTL"]
    if not 5 <= ttl <= 600:
        raise ConfigError("PAR_REQUEST_TTL", "must be an integer from 5 to 600 seconds")

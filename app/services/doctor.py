"""``flask doctor``: a deployment checked against the rules docs/operations.md and
docs/configuration.md state. Each check is a plain function returning one :class:`Finding`;
none changes anything (the database is only read).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import redis

from app.config import is_loopback
from app.models.signing_key import STATUS_ACTIVE
from app.models.types import utcnow
from app.services import housekeeping, keys
from app.settings import Settings, settings

OK, WARN, ERROR = "ok", "warn", "error"
# ``tokens purge`` runs hourly: a row waiting longer says cron missed runs, a day says no cron.
PURGE_WARN_AFTER = timedelta(hours=2)
PURGE_ERROR_AFTER = timedelta(days=1)
# Tessera's suggested signing key rotation period (the docs set no hard rule).
KEY_ROTATION_PERIOD = timedelta(days=90)
FINGERPRINT_LABEL = b"tessera-doctor"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # OK, WARN or ERROR
    message: str


@dataclass(frozen=True)
class Deployment:
    """What the operator declares about the processes that share this configuration."""

    workers: int = 1  # gunicorn workers per host
    hosts: int = 1

    @property
    def processes(self) -> int:
        return self.workers * self.hosts


def fingerprint(secret: str) -> str:
    """12 hex digits of HMAC-SHA256(secret, "tessera-doctor"): equal secrets, equal prints;
    the secret cannot be recovered from it."""
    return hmac.new(secret.encode(), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:12]


def _public_https(config: Settings) -> bool:
    parts = urlsplit(config.oauth_issuer)
    return parts.scheme == "https" and not is_loopback(parts.hostname)


def check_issuer(config: Settings, deployment: Deployment) -> Finding:
    parts = urlsplit(config.oauth_issuer)
    if parts.scheme == "https":
        return Finding("issuer", OK, f"{config.oauth_issuer} (https)")
    if is_loopback(parts.hostname):
        return Finding(
            "issuer",
            WARN,
            f"{config.oauth_issuer}: plain http on loopback, fine for "
            "development only; set OAUTH_ISSUER to the public https URL to deploy",
        )
    return Finding("issuer", ERROR, f"{config.oauth_issuer}: plain http off loopback")


def check_secret_key(config: Settings, deployment: Deployment) -> Finding:
    prints = f"SECRET_KEY {fingerprint(config.secret_key)}"
    if config.key_encryption_key:
        prints += f", KEY_ENCRYPTION_KEY {fingerprint(config.key_encryption_key)}"
    return Finding(
        "secret-key",
        OK,
        f"fingerprint {prints}: compare this line across hosts, it must be the same on every one",
    )


def _redis_problem(uri: str) -> str | None:
    """None if the Redis at ``uri`` answers a PING within a second, else why not."""
    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def _processes(deployment: Deployment) -> str:
    return f"{deployment.workers} worker(s) x {deployment.hosts} host(s)"


def check_rate_limit_storage(config: Settings, deployment: Deployment) -> Finding:
    uri = config.ratelimit_storage_uri
    name = "rate-limit-storage"
    if _scheme(uri) == "memory":
        if deployment.processes > 1:
            return Finding(
                name,
                ERROR,
                f"memory:// counts per worker, so with "
                f"{_processes(deployment)} every limit is {deployment.processes} times "
                "looser; set RATELIMIT_STORAGE_URI=redis://host:6379/0",
            )
        return Finding(name, OK, "memory:// (one worker; use Redis for more)")
    if _scheme(uri) in ("redis", "rediss"):
        problem = _redis_problem(uri)
        if problem:
            return Finding(name, ERROR, f"Redis does not answer: {problem}")
        return Finding(name, OK, "Redis answers; shared by every worker and host")
    return Finding(name, OK, f"{_scheme(uri)}:// storage (not checked)")


def check_replay_cache(config: Settings, deployment: Deployment) -> Finding:
    uri = config.replay_cache_uri
    name = "replay-cache"
    if not uri:
        advice = (
            " (Redis is advised where DPoP traffic is heavy)"
            if deployment.processes > 1 and config.dpop_enabled
            else ""
        )
        return Finding(name, OK, f"the database, shared by every worker and host{advice}")
    problem = _redis_problem(uri)
    if problem:
        return Finding(name, ERROR, f"Redis does not answer: {problem}")
    return Finding(name, OK, "Redis answers; shared by every worker and host")


def check_database(config: Settings, deployment: Deployment) -> Finding:
    scheme = _scheme(config.sqlalchemy_database_uri).partition("+")[0]
    if scheme == "sqlite" and deployment.hosts > 1:
        return Finding(
            "database",
            ERROR,
            f"SQLite is one host's file; {deployment.hosts} hosts "
            "need one shared PostgreSQL (SQLALCHEMY_DATABASE_URI)",
        )
    return Finding("database", OK, scheme)


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 7200:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def check_purge(config: Settings, deployment: Deployment) -> Finding:
    name = "tokens-purge"
    overdue = housekeeping.oldest_purgeable()
    if overdue is None:
        return Finding(name, OK, "no expired rows waiting")
    waited = utcnow() - overdue.since
    message = (
        f"the oldest expired row ({overdue.table}) has waited {_age(waited)} for "
        "`flask tokens purge`"
    )
    if waited > PURGE_ERROR_AFTER:
        return Finding(name, ERROR, message + "; schedule it hourly from cron on one host")
    if waited > PURGE_WARN_AFTER:
        return Finding(name, WARN, message + "; is it scheduled hourly?")
    return Finding(name, OK, message)


def check_signing_keys(config: Settings, deployment: Deployment) -> Finding:
    name = "signing-keys"
    active = [row for row in keys.list_keys() if row.status == STATUS_ACTIVE]
    if not active:
        return Finding(name, OK, "none yet; the first token issued creates them")
    now = utcnow()
    oldest = min(active, key=lambda row: row.created_at)
    parts = [f"{row.alg} {row.kid[:12]} is {_age(now - row.created_at)} old" for row in active]
    due = oldest.created_at + KEY_ROTATION_PERIOD
    period = f"every {KEY_ROTATION_PERIOD.days} days"
    if due <= now:
        return Finding(
            name,
            WARN,
            f"{', '.join(parts)}; rotation ({period}) is "
            f"{_age(now - due)} overdue: `flask keys rotate`",
        )
    return Finding(name, OK, f"{', '.join(parts)}; next rotation ({period}) in {_age(due - now)}")


def check_par_dpop(config: Settings, deployment: Deployment) -> Finding:
    par = (
        ("required" if config.par_required else "enabled, optional")
        if config.par_enabled
        else ("off")
    )
    dpop = (
        ("enabled, nonce required" if config.dpop_nonce_required else "enabled, optional")
        if config.dpop_enabled
        else "off"
    )
    return Finding("par-dpop", OK, f"PAR {par}; DPoP {dpop}")


def check_registration(config: Settings, deployment: Deployment) -> Finding:
    mode = config.registration_mode
    name = "registration"
    if mode == "open" and not is_loopback(urlsplit(config.oauth_issuer).hostname):
        return Finding(
            name,
            WARN,
            "open: anyone on the internet may register a client; "
            "REGISTRATION_MODE=token needs an initial access token",
        )
    return Finding(name, OK, mode)


def check_proxy(config: Settings, deployment: Deployment) -> Finding:
    count = config.proxy_fix_x_for
    if count == 0 and _public_https(config):
        return Finding(
            "proxy",
            WARN,
            "PROXY_FIX_X_FOR is 0 but the issuer is public https, so "
            "TLS is probably ended by a proxy: set it to the number of proxies, or "
            "throttles see the proxy's address and requests count as http",
        )
    if count == 0:
        return Finding("proxy", OK, "PROXY_FIX_X_FOR=0: clients connect directly")
    return Finding(
        "proxy",
        OK,
        f"PROXY_FIX_X_FOR={count}: X-Forwarded-For, -Proto and -Host "
        f"of {count} proxy(ies) believed",
    )


CHECKS: tuple[Callable[[Settings, Deployment], Finding], ...] = (
    check_issuer,
    check_secret_key,
    check_database,
    check_rate_limit_storage,
    check_replay_cache,
    check_purge,
    check_signing_keys,
    check_par_dpop,
    check_registration,
    check_proxy,
)


def run(deployment: Deployment) -> list[Finding]:
    """Every check, in order; needs an app context."""
    config = settings()
    return [check(config, deployment) for check in CHECKS]

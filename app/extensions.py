"""Flask extensions, created unbound; ``create_app`` binds them to an app."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, session
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.constants import ConfigVars
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

import app.memory_limits  # noqa: F401  (memory:// counters without a thread per count)
from app.route_policy import csrf_exempt_reason

# Stable constraint names, so Alembic can alter and drop them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()


def source_address() -> str:
    """The caller's address as throttles count it: an IPv4 address, or an IPv6 /64.

    One host is routinely given a whole /64, so counting each IPv6 address apart would let it
    rotate through 2^64 addresses past every per-address limit.
    """
    address = request.remote_addr or "127.0.0.1"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


limiter = Limiter(source_address)

# Configuration that would make flask-limiter limit every request, not only decorated views.
APP_WIDE_LIMITS = (
    ConfigVars.DEFAULT_LIMITS,
    ConfigVars.APPLICATION_LIMITS,
    ConfigVars.META_LIMITS,
    ConfigVars.IN_MEMORY_FALLBACK,
)
# Where flask-limiter keeps its per-request state; present only once a limited view checked.
_LIMITER_STATE = "_limiter_request_context"


def init_limiter(app: Flask) -> None:
    """Bind flask-limiter so that a request to a view without a limit never reaches it.

    Tessera's limits are all on views (``@limiter.limit``), and the decorator checks them
    itself. flask-limiter's before_request hook only looks for app-wide limits (there are
    none) yet cost about 0.05 ms on every request, a photo API call included; its
    after_request and teardown hooks have nothing to do unless a limited view ran (headers,
    ``deduct_when`` counts). So the first goes and the other two run only where the limiter
    kept state. App-wide limits in the configuration keep flask-limiter's own hooks.
    """
    limiter.init_app(app)
    hooks = app.before_request_funcs.get(None, [])
    if any(app.config.get(name) for name in APP_WIDE_LIMITS) or (
        limiter._check_request_limit not in hooks  # disabled: init_app registered nothing
    ):
        return
    hooks.remove(limiter._check_request_limit)
    after = app.after_request_funcs[None]
    [inject] = [hook for hook in after if getattr(hook, "args", None) == (limiter,)]
    after[after.index(inject)] = _only_where_limited(inject)
    teardown = app.teardown_request_funcs[None]
    [release] = [hook for hook in teardown if getattr(hook, "__self__", None) is limiter]
    teardown[teardown.index(release)] = _only_where_limited(release)


def _only_where_limited(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run_if_limited(value: Any) -> Any:
        return hook(value) if hasattr(request_ctx, _LIMITER_STATE) else value

    return run_if_limited


def init_migrate(app: Flask, directory: Path) -> None:
    """Flask-Migrate and ``flask db``; imported here, so a server that never migrates skips it."""
    from flask_migrate import Migrate

    Migrate(render_as_batch=True).init_app(app, db, directory=str(directory))


def init_login_manager(app: Flask) -> None:
    """Flask-Login, without its after-request cookie work for callers that have no session.

    ``_update_remember_cookie`` only acts on keys of the session; an empty one (every API
    and token call: no cookie) has none, unless REMEMBER_COOKIE_REFRESH_EACH_REQUEST asks it
    to refresh on each request, in which case it always runs.
    """
    login_manager.init_app(app)
    if app.config.get("REMEMBER_COOKIE_REFRESH_EACH_REQUEST"):
        return
    after = app.after_request_funcs[None]
    update = login_manager._update_remember_cookie

    def _update_remember_cookie(response: Response) -> Response:
        return update(response) if session else response

    after[after.index(update)] = _update_remember_cookie


def init_csrf(app: Flask) -> None:
    """CSRFProtect on the unsafe methods of every view but those declaring ``csrf_exempt``.

    The exemptions are declared on the route (app/route_policy.py), not kept by CSRFProtect.
    Its own hook looks up exemptions before it looks at the method, on every GET too; this
    one looks at the method first. A request that matches no route is not checked (it is a
    404 or 405 either way).
    """
    check_default = app.config.get("WTF_CSRF_CHECK_DEFAULT", True)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the hook below checks instead
    csrf.init_app(app)
    if not check_default:
        return
    methods = app.config["WTF_CSRF_METHODS"]

    @app.before_request
    def _csrf_protect() -> None:
        if (
            request.method in methods
            and app.config["WTF_CSRF_ENABLED"]
            and request.endpoint is not None
            and csrf_exempt_reason(app, request.endpoint) is None
        ):
            csrf.protect()

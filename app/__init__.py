"""Tessera: an OAuth 2.0 / OpenID Connect authorization server and photo resource server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from app import metrics
from app.config import ConfigError, load_config
from app.errors import SERVICE_UNAVAILABLE_RETRY_AFTER
from app.extensions import (
    db,
    init_csrf,
    init_limiter,
    init_login_manager,
    init_migrate,
    login_manager,
)
from app.file_modes import secure_instance
from app.flask_app import TesseraFlask
from app.request_log import init_request_log
from app.route_policy import declare_endpoint, html_errors, no_rate_limit
from app.session_cookie import LeanCookieSessionInterface
from app.settings import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None, *, migrations: bool = True) -> Flask:
    """Build the application: config, extensions, blueprints, CLI, error handlers, headers.

    ``migrations=False`` (wsgi.py) imports Flask-Migrate only when a ``flask db`` command runs:
    alembic, mako and pygments are 11 MiB a server never uses.
    """
    app = TesseraFlask(
        __name__,
        instance_path=os.environ.get("FLASK_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    load_config(app, config)
    metrics.init_app(app)  # first: its after_request hook runs last, timing the others too
    secure_instance(app)
    app.session_interface = LeanCookieSessionInterface()
    register_upload_limits(app)  # before the guards: they parse the form
    register_input_guards(app)
    register_extensions(app, migrations=migrations)
    check_signing_keys(app)
    register_blueprints(app)
    register_commands(app)
    register_error_handlers(app)
    register_response_headers(app)
    init_request_log(app)  # last: it wraps the whole WSGI app, ProxyFix included
    return app


def register_input_guards(app: Flask) -> None:
    """Refuse NUL characters in the path, query and form fields before anything uses them.

    No legitimate parameter carries one, SQLite would store it and PostgreSQL rejects it;
    either way the answer is a 400, the same on every backend.
    """

    @app.before_request
    def _refuse_nul() -> None:
        query = request.query_string
        try:  # gunicorn refuses such a request line itself; other WSGI servers pass it on
            query.decode()
        except UnicodeDecodeError:
            abort(400, "The query string is not valid UTF-8.")
        values = [request.path]
        # A decoded NUL comes only from "%00" or a raw NUL byte: without either in the raw
        # query or form body, no value can hold one and nothing needs parsing here (the
        # view parses the form itself, once; get_data keeps the body for that).
        if _may_hold_nul(query):
            values += [v for _, v in request.args.items(multi=True)]
        if request.mimetype == "multipart/form-data" or (
            request.mimetype == "application/x-www-form-urlencoded"
            and _may_hold_nul(request.get_data(cache=True))
        ):
            values += [v for _, v in request.form.items(multi=True)]
        if any("\x00" in value for value in values):
            abort(400, "The request contains a NUL character.")


def _may_hold_nul(raw: bytes) -> bool:
    return b"%00" in raw or b"\x00" in raw


PHOTO_UPLOAD_ENDPOINTS = {"api.upload_photo", "my_photos.upload"}


def register_upload_limits(app: Flask) -> None:
    """Photo uploads may carry PHOTO_MAX_BYTES; everything else keeps MAX_CONTENT_LENGTH.

    Registered before the extensions, because CSRFProtect reads the form in its own
    before_request hook and the limit must be raised before the body is parsed.
    """

    @app.before_request
    def _raise_limit_for_uploads() -> None:
        if request.endpoint in PHOTO_UPLOAD_ENDPOINTS:
            request.max_content_length = settings(app).photo_max_bytes + 64 * 1024


def register_extensions(app: Flask, *, migrations: bool = True) -> None:
    from app import models  # noqa: F401  (registers the tables on db.metadata)
    from app.account.principal import configure_login_manager

    db.init_app(app)
    if migrations:
        init_migrate(app, PROJECT_ROOT / "migrations")
    else:
        from app.migrate_cli import register_lazy_migrate

        register_lazy_migrate(app, PROJECT_ROOT / "migrations")
    init_login_manager(app)
    configure_login_manager(login_manager)
    init_csrf(app)
    register_retry_after(app)  # before the limiter: after_request hooks run in reverse order
    init_limiter(app)
    if hops := settings(app).proxy_fix_x_for:
        # Behind TLS-terminating proxies: trust their X-Forwarded-For/-Proto/-Host.
        proxied = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        app.wsgi_app = proxied  # type: ignore[method-assign]
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def check_signing_keys(app: Flask) -> None:
    """Open the stored signing keys once, so a wrong KEY_ENCRYPTION_KEY stops the start.

    Without the check the first token request would fail with a 500. Plaintext keys (from
    before keys were sealed) and keys sealed with an old KEK still work; a warning asks for
    ``flask keys rewrap``.
    """
    from app.services import keys
    from app.services.key_encryption import KeySealError

    with app.app_context():
        try:
            report = keys.check_sealing()
        except KeySealError as exc:
            raise ConfigError("KEY_ENCRYPTION_KEY", str(exc)) from None
        except SQLAlchemyError:
            return  # no schema yet (``flask db upgrade``) or no database: nothing to open
        finally:
            db.session.remove()
    if report.plaintext:
        app.logger.warning(
            "%d signing key%s stored in plaintext; run `flask keys rewrap` to seal %s",
            report.plaintext, " is" if report.plaintext == 1 else "s are",
            "it" if report.plaintext == 1 else "them",
        )  # fmt: skip
    if report.old_kek:
        app.logger.warning(
            "%d signing key(s) sealed with a KEY_ENCRYPTION_KEYS_OLD entry; run "
            "`flask keys rewrap`, then remove the old key", report.old_kek,
        )  # fmt: skip


def register_retry_after(app: Flask) -> None:
    """Retry-After only on 429 and 503, and on a 503 our own short hint (RFC 9110 §10.2.3).

    flask-limiter puts its window's reset (up to minutes) in Retry-After on every answer of a
    throttled endpoint, 200s included, and raises a 503's hint to it: a client told to come
    back in 60 s after a database blip of one second waits for nothing.
    """

    @app.after_request
    def _retry_after(response: Response) -> Response:
        if response.status_code == 503:
            response.headers["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER)
        elif response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside one writer; the busy timeout makes writers queue, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def register_blueprints(app: Flask) -> None:
    from app.account.apps import bp as my_apps_bp
    from app.account.photos import bp as my_photos_bp
    from app.account.routes import bp as account_bp
    from app.admin.activity import bp as admin_activity_bp
    from app.admin.audit import bp as admin_audit_bp
    from app.admin.clients import bp as admin_clients_bp
    from app.admin.users import bp as admin_users_bp
    from app.api.discovery import bp as api_discovery_bp
    from app.api.photos import bp as api_bp
    from app.health import bp as health_bp
    from app.oauth.device_pages import bp as device_bp
    from app.oauth.endpoints import bp as oauth_bp
    from app.oauth.interaction import bp as interaction_bp
    from app.oauth.registration import bp as registration_bp
    from app.oauth.server import build_authorization_server

    build_authorization_server(app)
    app.register_blueprint(account_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(interaction_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(device_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_discovery_bp)
    for page_bp in (my_apps_bp, my_photos_bp, admin_clients_bp, admin_users_bp, admin_audit_bp,
                    admin_activity_bp):  # fmt: skip
        app.register_blueprint(page_bp)
    declare_endpoint(app, "static", html_errors, no_rate_limit("files from app/static"))
    if settings(app).metrics_token:  # otherwise /metrics is an unknown URL
        from app.metrics_endpoint import bp as metrics_bp

        app.register_blueprint(metrics_bp)


def register_commands(app: Flask) -> None:
    from app.cli import register_commands as register

    register(app)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register

    register(app)


def register_response_headers(app: Flask) -> None:
    from app.security import apply_security_headers

    https = settings(app).oauth_issuer.startswith("https://")

    @app.after_request
    def _headers(response: Response) -> Response:
        return apply_security_headers(response, https=https)


__all__ = ["create_app"]

"""PhotoPrint: a print shop's web app, and an OAuth client of Tessera over HTTP only.

Settings (``PHOTOPRINT_*`` environment variables, or the mapping given to ``create_app``):
``TESSERA_ISSUER`` (default http://127.0.0.1:5000), ``CLIENT_FILE`` (default
instance/client.json, written by ``python -m photoprint.register``), ``TOKEN_LEEWAY``
(seconds before expiry an access token is renewed, default 60) and ``HTTP_TIMEOUT``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from photoprint import views
from photoprint.oauth import Client
from photoprint.store import Store

__all__ = ["create_app"]

DEFAULTS: dict[str, Any] = {
    "TESSERA_ISSUER": "http://127.0.0.1:5000",
    "TOKEN_LEEWAY": 60,
    "HTTP_TIMEOUT": 10,
    "SESSION_COOKIE_NAME": "photoprint",  # Tessera's cookie lives on the same host
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def create_app(config: Mapping[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    """The app; its instance folder (client.json, secret_key, the token store) defaults to
    examples/photoprint/instance."""
    app = Flask(__name__, instance_path=instance_path)
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("PHOTOPRINT")
    app.config.update(config or {})
    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    app.config.setdefault("CLIENT_FILE", str(instance / "client.json"))
    app.secret_key = app.config.get("SECRET_KEY") or _secret_key(instance / "secret_key")
    app.extensions["photoprint.store"] = Store(instance / "photoprint.sqlite")
    app.extensions["photoprint.client"] = _load_client(Path(app.config["CLIENT_FILE"]))
    app.register_blueprint(views.bp)
    return app


def _secret_key(path: Path) -> str:
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _load_client(path: Path) -> Client:
    try:
        data = json.loads(path.read_text())
        return Client(data["client_id"], data["client_secret"], data["redirect_uri"], data["scope"])
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(
            f"PhotoPrint has no client at {path} ({exc}); run `python -m photoprint.register`"
        ) from exc

"""PhotoPrint's pages: home, connect (PAR), callback, Bob's photos, the contact sheet PDF."""

from __future__ import annotations

import base64
import io
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from PIL import Image, ImageOps, UnidentifiedImageError

from photoprint import contact_sheet
from photoprint.dpop import DPoPKey
from photoprint.oauth import AuthorizationFailed, Client, DPoPSession, Provider, TesseraUnavailable
from photoprint.store import Connection, Store
from photoprint.tessera_api import AccessRevoked, APIError, TesseraAPI

bp = Blueprint("photoprint", __name__)
THUMBNAILS_SHOWN = 24
_discovery_lock = threading.Lock()

# What Bob reads when Tessera says no at the authorization endpoint (RFC 6749 §4.1.2.1).
DENIALS = {
    "access_denied": "You chose not to let PhotoPrint see your photos. Nothing was shared.",
    "invalid_state": "This sign-in answer does not belong to a request PhotoPrint made.",
    "invalid_issuer": "This sign-in answer did not come from Tessera.",
}


def _store() -> Store:
    store: Store = current_app.extensions["photoprint.store"]
    return store


def _provider() -> Provider:
    """Tessera's discovery document, fetched once per process (and again after a failure)."""
    with _discovery_lock:
        provider: Provider | None = current_app.extensions.get("photoprint.provider")
        if provider is None:
            issuer = current_app.config["TESSERA_ISSUER"]
            provider = Provider.discover(issuer, current_app.config["HTTP_TIMEOUT"])
            current_app.extensions["photoprint.provider"] = provider
        return provider


def _oauth(connection: Connection) -> DPoPSession:
    client: Client = current_app.extensions["photoprint.client"]
    key = DPoPKey.from_json(connection.dpop_key or "")

    def saved(token: Any, **_: Any) -> None:  # authlib calls this after each refresh
        _store().save_token(connection.id, token, refreshed=True)

    return DPoPSession(
        client,
        _provider(),
        key,
        token=connection.token,
        update_token=saved,
        leeway=int(current_app.config["TOKEN_LEEWAY"]),
        timeout=float(current_app.config["HTTP_TIMEOUT"]),
    )


@contextmanager
def _connected() -> Iterator[tuple[Connection, TesseraAPI]]:
    """Bob's connection and an API client for it, one request of his at a time."""
    connection_id = session.get("connection")
    store = _store()
    if store.get(connection_id) is None:
        raise NotConnected
    assert connection_id is not None
    with store.lock(connection_id):
        connection = store.get(connection_id)
        if connection is None or connection.token is None:
            raise NotConnected
        api_base = current_app.config.get("TESSERA_API") or _provider().issuer + "/api/v1"
        try:
            yield connection, TesseraAPI(_oauth(connection), api_base)
        except AccessRevoked:
            store.forget(connection_id)
            raise


class NotConnected(Exception):
    """No token for this browser yet: back to the home page."""


@bp.get("/")
def home() -> str:
    connection = _store().get(session.get("connection"))
    return render_template("home.html", connected=bool(connection and connection.token))


@bp.post("/connect")
def connect() -> Response:
    """Start an authorization: push it to Tessera (PAR), then send Bob there."""
    store = _store()
    connection_id = session.get("connection") or store.new_id()
    key, state, verifier = DPoPKey.generate(), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    store.begin(connection_id, state, verifier, key.to_json())
    session["connection"] = connection_id
    pending = Connection(connection_id, state, verifier, key.to_json(), None, 0)
    return redirect(_oauth(pending).push_authorization_request(state, verifier))  # type: ignore[return-value]


@bp.get("/callback")
def callback() -> Response:
    store = _store()
    connection = store.get(session.get("connection"))
    if connection is None or connection.state is None or connection.code_verifier is None:
        raise AuthorizationFailed("invalid_state", "No sign-in is in progress here.")
    oauth = _oauth(connection)
    try:
        token = oauth.redeem(request.args, connection.state, connection.code_verifier)
    except OAuthError as exc:  # the token endpoint refused the code
        raise AuthorizationFailed(exc.error, exc.description or "") from exc
    except requests.RequestException as exc:
        raise TesseraUnavailable(str(exc)) from exc
    if str(token.get("token_type", "")).lower() != "dpop":
        raise AuthorizationFailed("invalid_token_type", "Tessera did not bind the token to DPoP.")
    store.save_token(connection.id, token, refreshed=False)
    return redirect(url_for(".photos"))  # type: ignore[return-value]


@bp.get("/photos")
def photos() -> str:
    with _connected() as (connection, api):
        found = api.photos()
        thumbnails = [_thumbnail(api.content(photo)) for photo in found[:THUMBNAILS_SHOWN]]
    thumbnails += [""] * (len(found) - len(thumbnails))
    now = _store().get(connection.id)
    return render_template(
        "photos.html",
        photos=list(zip(found, thumbnails, strict=True)),
        refreshes=now.refreshes if now else 0,
    )


@bp.get("/contact-sheet.pdf")
def contact_sheet_pdf() -> Response:
    with _connected() as (_, api):
        pictures = [contact_sheet.Picture(p.title, api.content(p)) for p in api.photos()]
    pdf = contact_sheet.render(pictures, f"PhotoPrint contact sheet · {len(pictures)} photos")
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="contact-sheet.pdf"'},
    )


@bp.post("/disconnect")
def disconnect() -> Response:
    """Revoke the refresh token at Tessera (RFC 7009) and forget everything."""
    store = _store()
    connection = store.get(session.get("connection"))
    if connection is not None and connection.token is not None:
        token = connection.token.get("refresh_token") or connection.token["access_token"]
        hint = "refresh_token" if "refresh_token" in connection.token else "access_token"
        try:
            revocation = _provider().revocation_endpoint
            _oauth(connection).revoke_token(revocation, token=token, token_type_hint=hint)
        except (requests.RequestException, TesseraUnavailable):  # forgetting is what matters
            current_app.logger.warning("revocation at Tessera failed; forgetting the token")
        store.forget(connection.id)
    session.pop("connection", None)
    return redirect(url_for(".home"))  # type: ignore[return-value]


def _thumbnail(data: bytes) -> str:
    """A small JPEG as a data: URI, so the page needs no second round of API calls."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            small = ImageOps.contain(image.convert("RGB"), (240, 160))
    except (UnidentifiedImageError, OSError, ValueError):
        return ""
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


# -- what Bob sees when something goes wrong: a page, never a traceback ------------------


def _error(status: int, title: str, message: str, reconnect: bool = False) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, reconnect=reconnect), status


@bp.app_errorhandler(NotConnected)
def _not_connected(_: NotConnected) -> Response:
    return redirect(url_for(".home"))  # type: ignore[return-value]


@bp.app_errorhandler(AccessRevoked)
def _revoked(_: AccessRevoked) -> tuple[str, int]:
    return _error(401, "Access was revoked. Connect again", REVOKED, reconnect=True)


@bp.app_errorhandler(AuthorizationFailed)
def _failed(exc: AuthorizationFailed) -> tuple[str, int]:
    message = DENIALS.get(exc.error, f"Tessera said: {exc.error}. {exc.description}".strip())
    return _error(400, "PhotoPrint could not connect to Tessera", message, reconnect=True)


@bp.app_errorhandler(TesseraUnavailable)
def _unavailable(exc: TesseraUnavailable) -> tuple[str, int]:
    current_app.logger.warning("Tessera unavailable: %s", exc)
    return _error(502, "Tessera is not answering", UNAVAILABLE)


@bp.app_errorhandler(APIError)
def _api_error(exc: APIError) -> tuple[str, int]:
    current_app.logger.warning("Tessera API error: %s", exc)
    return _error(502, "Tessera refused the request", str(exc))


@bp.app_errorhandler(500)
def _bug(_: Exception) -> tuple[str, int]:
    return _error(500, "Something went wrong in PhotoPrint", "Please try again in a moment.")


REVOKED = (
    "You (or Tessera) ended PhotoPrint's access to your photos, so PhotoPrint has forgotten "
    "its tokens. Connect again to print your photos."
)
UNAVAILABLE = "PhotoPrint could not reach Tessera just now. Please try again in a moment."

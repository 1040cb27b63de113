"""The client registration endpoint (RFC 7591 §3) and client configuration endpoint (RFC 7592).

``REGISTRATION_MODE`` decides who may register: "token" needs an initial access token
(``Authorization: Bearer``), "open" anyone, "off" answers 404 here. Each registration returns a
registration access token for ``GET|PUT|DELETE /register/<client_id>``. Thin adapters over
``services.dynamic_registration``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.extensions import limiter, source_address
from app.features import Feature, requires_feature
from app.models import Client
from app.oauth.protect import BearerError, MissingToken, bearer_token
from app.route_policy import csrf_exempt, declare, json_errors, no_rate_limit
from app.services import clients, dynamic_registration, registration_tokens
from app.services.client_metadata import ClientMetadataError
from app.services.dynamic_registration import RegistrationDenied
from app.settings import settings

bp = declare(
    Blueprint("registration", __name__),
    json_errors,
    csrf_exempt("bearer tokens, never cookies"),
)
JSON_MIMETYPE = "application/json"
MANAGED_CLIENT = "needs the client's registration access token: nothing to guess"


def _registration_limit() -> str:
    return str(settings().registration_limit_per_ip)


@bp.post("/register")
@requires_feature(Feature.REGISTRATION)
@limiter.limit(_registration_limit, key_func=source_address)
def register() -> ResponseReturnValue:
    """RFC 7591 §3.1: register a client; 201 with the client information response."""
    initial_access_token = _initial_access_token()
    metadata = _json_object()
    try:
        registration = dynamic_registration.register(metadata, initial_access_token)
    except RegistrationDenied as exc:
        raise _denied(str(exc)) from None
    body = registration.information_response() | {
        "registration_access_token": registration.registration_access_token,
        "registration_client_uri": registration_client_uri(registration.client),
    }
    return _no_store(body, 201)


@bp.get("/register/<client_id>")
@no_rate_limit(MANAGED_CLIENT)
@requires_feature(Feature.REGISTRATION)
def read_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 §2.1: the client's current registration (no secret, no token)."""
    return _information(_managed_client(client_id))


@bp.put("/register/<client_id>")
@no_rate_limit(MANAGED_CLIENT)
@requires_feature(Feature.REGISTRATION)
def update_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 §2.2: replace the client's metadata."""
    client = _managed_client(client_id)
    return _information(dynamic_registration.replace(client, _json_object()))


@bp.delete("/register/<client_id>")
@no_rate_limit(MANAGED_CLIENT)
@requires_feature(Feature.REGISTRATION)
def delete_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 §2.3: deregister; every authorization and token of the client ends."""
    dynamic_registration.delete(_managed_client(client_id))
    return Response(status=204, headers={"Cache-Control": "no-store"})


def registration_client_uri(client: Client) -> str:
    return f"{settings().oauth_issuer}/register/{client.client_id}"


def _initial_access_token() -> str | None:
    """In "token" mode the request's usable initial access token; nothing in "open" mode."""
    if settings().registration_mode == "open":
        return None
    token = bearer_token()
    if token is None:
        raise MissingToken(offer_dpop=False)
    if not registration_tokens.is_usable(token):
        raise _denied("The initial access token is invalid, expired or used up.")
    return token


def _managed_client(client_id: str) -> Client:
    token = bearer_token()
    if token is None:
        raise MissingToken(offer_dpop=False)
    try:
        return dynamic_registration.managed_client(client_id, token)
    except RegistrationDenied as exc:
        raise _denied(str(exc)) from None


def _denied(description: str) -> BearerError:
    """RFC 6750 invalid_token for an initial or registration access token (Bearer only)."""
    return BearerError(description, offer_dpop=False)


def _json_object() -> dict[str, Any]:
    """The request body: a JSON object sent as application/json (RFC 7591 §3.1)."""
    if request.mimetype != JSON_MIMETYPE:
        raise ClientMetadataError(f"Send the client metadata as {JSON_MIMETYPE}.")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
    if not isinstance(body, dict):
        raise ClientMetadataError("The body must be a JSON object of client metadata.")
    return body


def _information(client: Client) -> Response:
    body = clients.client_information(client) | {
        "registration_client_uri": registration_client_uri(client)
    }
    return _no_store(body, 200)


def _no_store(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response

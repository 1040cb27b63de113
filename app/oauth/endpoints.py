"""The JSON endpoints clients call: token, revocation, introspection, userinfo, keys,
discovery, and RP-initiated logout. Each is a thin adapter over authlib or a service."""

from __future__ import annotations

import functools
from collections.abc import Callable

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app import metrics
from app.errors import TesseraError, ValidationError
from app.features import Feature, requires_feature
from app.oauth import dpop_binding, par
from app.oauth.metadata import authorization_server_metadata, openid_configuration
from app.oauth.oidc import user_claims
from app.oauth.protect import require_access_token
from app.oauth.server import GRANT_TYPES, authorization_server
from app.oauth.throttle import answer, client_endpoint
from app.route_policy import csrf_exempt, declare, json_errors, no_rate_limit
from app.services import keys

bp = declare(
    Blueprint("oauth", __name__),
    json_errors,
    csrf_exempt("clients authenticate themselves; no cookie is trusted here"),
)
FORM_MIMETYPE = "application/x-www-form-urlencoded"
DISCOVERY_CACHE = "public, max-age=300"
PUBLIC_DOCUMENT = "a public document, cached by its readers"
SUPPORTED_GRANT_TYPES = {grant.GRANT_TYPE for grant in GRANT_TYPES}
REPEATABLE_PARAMETERS = ("resource",)  # RFC 8707 §2: resource may repeat


def _check_form_post(repeatable: tuple[str, ...] = ()) -> None:
    """RFC 6749 §3.2: form-encoded POST, each parameter at most once (but ``repeatable``)."""
    if request.mimetype != FORM_MIMETYPE:
        raise ValidationError(f"Send the request as {FORM_MIMETYPE}.")
    for key in request.form:
        if key not in repeatable and len(request.form.getlist(key)) > 1:
            raise ValidationError(f"Parameter {key} was sent more than once.")


def _counting_errors(view: Callable[[], ResponseReturnValue]) -> Callable[[], ResponseReturnValue]:
    """Count /token's errors raised before or around the grants (a malformed request, an
    unsupported grant_type, a bad DPoP proof); those authlib answers are counted in
    ``create_grant_token_response``. A throttle's 429 is not an OAuth error: it never gets here.
    """

    @functools.wraps(view)
    def counted() -> ResponseReturnValue:
        try:
            return view()
        except (TesseraError, OAuth2Error) as error:
            metrics.token_error(error.error)
            raise

    return counted


@bp.post("/token")
@client_endpoint
@_counting_errors
def token() -> ResponseReturnValue:
    """RFC 6749 §3.2 token endpoint."""
    _check_form_post(repeatable=REPEATABLE_PARAMETERS)
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise ValidationError("Missing grant_type.")
    if grant_type not in SUPPORTED_GRANT_TYPES:
        raise ValidationError("This grant_type is not supported.", error="unsupported_grant_type")
    server = authorization_server()
    oauth_request = server.create_oauth2_request(None)
    dpop_binding.check_token_request(oauth_request)  # RFC 9449 §5: before any grant runs
    return answer(server.create_grant_token_response(grant_type, oauth_request), oauth_request)


def _endpoint_response(name: str) -> Response:
    """An authlib endpoint's answer, on a request object the throttle can read back."""
    server = authorization_server()
    oauth_request = server.create_oauth2_request(None)
    return answer(server.create_endpoint_response(name, oauth_request), oauth_request)


@bp.post("/device_authorization")
@requires_feature(Feature.DEVICE_FLOW)
@client_endpoint
def device_authorization() -> ResponseReturnValue:
    """RFC 8628 §3.1 device authorization request."""
    _check_form_post(repeatable=REPEATABLE_PARAMETERS)
    return _endpoint_response("device_authorization")


@bp.post("/revoke")
@client_endpoint
def revoke() -> ResponseReturnValue:
    """RFC 7009 token revocation."""
    _check_form_post()
    return _endpoint_response("revocation")


@bp.post("/introspect")
@client_endpoint
def introspect() -> ResponseReturnValue:
    """RFC 7662 token introspection."""
    _check_form_post()
    return _endpoint_response("introspection")


@bp.post("/par")
@requires_feature(Feature.PAR)
@client_endpoint
def pushed_authorization_request() -> ResponseReturnValue:
    """RFC 9126 §2 pushed authorization request endpoint."""
    _check_form_post(repeatable=REPEATABLE_PARAMETERS)
    server = authorization_server()
    oauth_request = server.create_oauth2_request(None)
    return answer(par.push(server, oauth_request), oauth_request)


@bp.route("/userinfo", methods=["GET", "POST"])
@no_rate_limit("a bearer token's claims: nothing to guess, one indexed lookup")
def userinfo() -> ResponseReturnValue:
    """OpenID Connect Core §5.3: claims about the token's user, by its scopes."""
    # The token's validity and its user's claims come from one statement (one round trip).
    access = require_access_token("openid", allow_form_body=True, with_user=True)
    if access.user is None:
        raise ValidationError(
            "This token does not act for a user.", error="invalid_token", status=401
        )
    response = jsonify(user_claims(access.user, access.scope))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jwks.json")
@no_rate_limit(PUBLIC_DOCUMENT)
def jwks() -> ResponseReturnValue:
    """The public signing keys (RFC 7517 JWK Set)."""
    response = jsonify(keys.public_jwks())
    response.headers["Cache-Control"] = DISCOVERY_CACHE
    return response


@bp.get("/.well-known/oauth-authorization-server")
@no_rate_limit(PUBLIC_DOCUMENT)
def oauth_metadata() -> ResponseReturnValue:
    """RFC 8414 authorization server metadata."""
    response = jsonify(authorization_server_metadata())
    response.headers["Cache-Control"] = DISCOVERY_CACHE
    return response


@bp.get("/.well-known/openid-configuration")
@no_rate_limit(PUBLIC_DOCUMENT)
def openid_metadata() -> ResponseReturnValue:
    """OpenID Connect Discovery 1.0."""
    response = jsonify(openid_configuration())
    response.headers["Cache-Control"] = DISCOVERY_CACHE
    return response

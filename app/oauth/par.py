"""Pushed authorization requests (RFC 9126), on authlib's own request objects.

- POST /par (§2): the client authenticates as at the token endpoint; its authorization
  parameters are validated by the same authlib grant /authorize uses, without a user, and
  stored under a one-time request_uri.
- /authorize?client_id=...&request_uri=... (§4): ``authorization_request`` rebuilds the
  OAuth2Request from the stored parameters, so they replace the query's for the whole flow
  (grant validation, PKCE, OIDC, resource indicators: anything reading ``request.payload``).
- ``RequirePushedRequests`` (§5, §6): the global or per-client rule that /authorize only
  accepts pushed requests.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from flask import Response, g
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

from app.features import Feature, feature_enabled
from app.models.client import AUTH_METHODS
from app.oauth import request_object
from app.oauth.authlib_seam import AUTHORIZATION_PAYLOAD_HOOK, ParametersRequest
from app.oauth.prompt import max_age_of, prompts_of
from app.services import pushed_requests
from app.services.pushed_requests import Parameters, PushedRequestError, Redeemable
from app.settings import settings

AUTHORIZATION_PATH = "/authorize"
PAR_PATH = "/par"
# Client authentication travels with the push but is no authorization parameter.
CLIENT_AUTH_PARAMETERS = ("client_secret", "client_assertion", "client_assertion_type")
# §2.1: request_uri cannot be pushed (JAR request objects are refused by ``request_object``).
REFUSED_PARAMETERS = ("request_uri",)
_REDEEMED = "tessera_pushed_request"
_CONSUMED = "tessera_pushed_request_consumed"


class InvalidRequestUriError(OAuth2Error):  # type: ignore[misc]
    """The request_uri is unknown, expired, used or another client's (OIDC Core §3.1.2.6)."""

    error = "invalid_request_uri"


class RequestUriNotSupportedError(OAuth2Error):  # type: ignore[misc]
    error = "request_uri_not_supported"


class PushedOAuth2Request(ParametersRequest):
    """An authorization request whose parameters were pushed (or are being pushed) to /par;
    the query string of /authorize other than client_id and request_uri is ignored (§4)."""


def metadata(issuer: str) -> dict[str, Any]:
    """RFC 9126 §5 fields of the RFC 8414 document."""
    if not feature_enabled(Feature.PAR):
        return {}
    fields: dict[str, Any] = {"pushed_authorization_request_endpoint": f"{issuer}{PAR_PATH}"}
    if settings().par_required:
        fields["require_pushed_authorization_requests"] = True
    return fields


# -- POST /par ------------------------------------------------------------------------------
def push(server: Any, oauth_request: Any) -> Response:
    """RFC 9126 §2: authenticate, validate as /authorize would, store; 201 or a JSON error."""
    try:
        client = server.authenticate_client(oauth_request, AUTH_METHODS, endpoint="par")
        parameters = _authorization_parameters(client.client_id)
        validate_pushed(server, PushedOAuth2Request(parameters))
    except OAuth2Error as error:
        error.redirect_uri = None  # §2.3: errors answer the client, never the user agent
        response: Response = server.handle_error_response(oauth_request, error)
        return response
    stored = {key: parameters.getlist(key) for key in parameters}
    request_uri, expires_in = pushed_requests.push(client.client_id, stored)
    body = {"request_uri": request_uri, "expires_in": expires_in}
    created: Response = server.handle_response(201, body, default_json_headers)
    return created


def _authorization_parameters(client_id: str) -> MultiDict[str, str]:
    """The pushed form minus client authentication; client_id is the authenticated one."""
    form = flask_request.form
    request_object.refuse(form)
    for name in REFUSED_PARAMETERS:
        if name in form:
            raise InvalidRequestError(f"{name} cannot be pushed (RFC 9126 section 2.1).")
    if form.get("client_id", client_id) != client_id:
        raise InvalidRequestError("client_id does not match the authenticated client.")
    parameters = MultiDict(
        [(k, v) for k, v in form.items(multi=True) if k not in CLIENT_AUTH_PARAMETERS]
    )
    parameters["client_id"] = client_id
    return parameters


def validate_pushed(server: Any, oauth_request: PushedOAuth2Request) -> None:
    """§2.1: the checks /authorize makes before it needs a user."""
    response_type = oauth_request.payload.response_type
    if not response_type:
        raise InvalidRequestError("response_type is required.")
    if response_type != "code":
        raise UnsupportedResponseTypeError(
            response_type, description="Only response_type=code is supported."
        )
    grant = server.get_authorization_grant(oauth_request)
    grant.validate_no_multiple_request_parameter(oauth_request)
    grant.validate_authorization_request()
    prompts = prompts_of(grant)
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age_of(grant)


# -- GET/POST /authorize with request_uri ---------------------------------------------------
def authorization_request() -> PushedOAuth2Request | None:
    """This /authorize request's pushed request, or None when it names no request_uri.

    Redeemed once per HTTP request (authlib builds the OAuth2Request more than once).
    Raises an error without redirect_uri: the stored redirect_uri is not trusted yet.
    """
    if flask_request.path != AUTHORIZATION_PATH or "request_uri" not in flask_request.args:
        return None
    if not feature_enabled(Feature.PAR):
        raise RequestUriNotSupportedError("Pushed authorization requests are not enabled.")
    redeemed: Redeemable | None = g.get(_REDEEMED)
    if redeemed is None:
        try:
            redeemed = pushed_requests.redeem(
                flask_request.args["request_uri"], flask_request.args.get("client_id")
            )
        except PushedRequestError as exc:
            invalid_uri = exc.error == InvalidRequestUriError.error
            error_class = InvalidRequestUriError if invalid_uri else InvalidRequestError
            raise error_class(exc.description) from None
        setattr(g, _REDEEMED, redeemed)
    return PushedOAuth2Request(_multidict(redeemed.parameters))


def _multidict(parameters: Parameters) -> MultiDict[str, str]:
    return MultiDict([(key, value) for key, values in parameters.items() for value in values])


def authorization_parameters() -> MultiDict[str, str]:
    """The parameters this /authorize request stands for: pushed ones, else the query."""
    redeemed: Redeemable | None = g.get(_REDEEMED)
    return _multidict(redeemed.parameters) if redeemed else flask_request.args


def consume() -> bool:
    """Use up this request's pushed request as its response is issued (§4: one-time use).

    True when there is none or this HTTP request used it; False when another one already did.
    """
    redeemed: Redeemable | None = g.get(_REDEEMED)
    if redeemed is None or g.get(_CONSUMED):
        return True
    used = pushed_requests.consume(redeemed.request_uri_hash)
    setattr(g, _CONSUMED, used)
    return used


def forget_prompts_satisfied(grant: Any, authenticated_at: Any) -> None:
    """A sign-in after the request_uri was first presented satisfies prompt=login and max_age.

    The query-string flow drops them from the URL it returns to after sign-in; a pushed
    request cannot change, so its sign-in is compared with its first presentation instead.
    """
    redeemed: Redeemable | None = g.get(_REDEEMED)
    if redeemed is None or authenticated_at is None or authenticated_at < redeemed.first_seen_at:
        return
    data: MultiDict[str, str] = grant.request.payload.data
    prompts = [p for p in str(data.get("prompt", "")).split() if p != "login"]
    data.poplist("prompt")
    data.poplist("max_age")
    if prompts:
        data["prompt"] = " ".join(prompts)


class RequirePushedRequests:
    """Grant extension: refuse an unpushed request when PAR_REQUIRED or the client's
    ``require_pushed_authorization_requests`` (RFC 9126 §5, §6) asks for PAR.

    Raised after redirect_uri validation, so the error goes back to the client.
    """

    def __call__(self, grant: Any) -> None:
        grant.register_hook(AUTHORIZATION_PAYLOAD_HOOK, self.check)

    def check(self, grant: Any, _result: Any = None) -> None:
        if isinstance(grant.request, PushedOAuth2Request):
            return
        client = grant.request.client
        if settings().par_required or client.client_metadata.get(
            "require_pushed_authorization_requests"
        ):
            raise InvalidRequestError(
                "This client must use pushed authorization requests (RFC 9126)."
            )

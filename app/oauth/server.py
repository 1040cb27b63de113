"""Assembling the authorization server: which grants, extensions and endpoints, in one place.

Discovery (``metadata``) reads the same tables, so the metadata can never advertise
something the server refuses.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, current_app, g

from app.errors import error_response, safe_error_description
from app.extensions import db
from app.oauth import dpop
from app.oauth.client_auth import PrivateKeyJWT
from app.oauth.device import DeviceAuthorization, DeviceCodeGrant
from app.oauth.dpop_binding import DPoPBinding, DPoPKeyParameter
from app.oauth.grants import (
    AUTH_METHODS,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from app.oauth.logout import EndSession
from app.oauth.oidc import OpenIDCode
from app.oauth.par import RequirePushedRequests, authorization_request
from app.oauth.pkce import S256CodeChallenge
from app.oauth.request_object import RefuseRequestObjects
from app.oauth.resource_indicators import ResourceIndicators
from app.oauth.token_endpoints import Introspection, Revocation
from app.scopes import SCOPES_SUPPORTED
from app.services import clients

EXTENSION_KEY = "tessera.authorization_server"
GRANT_TYPES = (AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant, DeviceCodeGrant)
TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
CLIENT_ASSERTION_ALGS = ["ES256", "RS256"]


class Issuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: ``iss`` on every authorization response, errors included."""

    def get_issuer(self) -> str:
        return str(current_app.config["OAUTH_ISSUER"])


class TesseraAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.init_app(app, query_client=clients.find_client, save_token=_commit)
        self.scopes_supported = SCOPES_SUPPORTED
        self.issuer_parameter = Issuer()
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
        self.register_grant(
            AuthorizationCodeGrant,
            [
                S256CodeChallenge(),
                OpenIDCode(),
                RequirePushedRequests(),
                RefuseRequestObjects(),
                ResourceIndicators(),
                DPoPKeyParameter(),
                DPoPBinding(),
            ],
        )
        self.register_grant(RefreshTokenGrant, [DPoPBinding()])
        self.register_grant(ClientCredentialsGrant, [DPoPBinding()])
        self.register_grant(DeviceCodeGrant, [DPoPBinding()])  # RFC 8628, while enabled
        self.register_endpoint(DeviceAuthorization)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(EndSession)
        self.register_extension(self.issuer_parameter)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        """RFC 6749 §2.3: a request uses one authentication method, chosen by what it carries.

        authlib tries each allowed method in turn, so a public client sending a wrong secret
        in a Basic header would fall through to ``none`` and succeed; here the credentials
        present decide the only method that may be tried.
        """
        method = presented_auth_method(request)
        try:
            client = super().authenticate_client(
                request, [method] if method in methods else [], endpoint
            )
            g.authenticated_client_id = client.client_id  # the per-client budget counts it
            return client
        # ValueError: a Basic header that is not base64 "id:secret"; RecursionError: an
        # assertion whose JSON nests past the json module's depth limit.
        except (ValueError, RecursionError):
            error = InvalidClientError(description="Client authentication failed.")
            error.status_code = 401
            raise error from None
        except InvalidClientError as error:
            # RFC 6749 §5.2: 401 with a Basic challenge, whichever way the client tried.
            if error.description is None or "cannot authenticate" in error.description:
                error.description = "Client authentication failed."
            error.status_code = 401
            raise

    def create_oauth2_request(self, request: Any) -> Any:
        """At /authorize with a request_uri, the pushed parameters replace the query's
        (RFC 9126 §4)."""
        return authorization_request() or super().create_oauth2_request(request)

    def get_authorization_grant(self, request: Any) -> Any:
        try:
            return super().get_authorization_grant(request)
        except ValueError:  # authlib put an unprintable response_type in its description
            raise UnsupportedResponseTypeError("response_type is not supported.", "") from None

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Errors never echo control characters (RFC 6749 §5.2 limits the character set)."""
        if error.description:
            error.description = safe_error_description(str(error.description))[:300]
        response: Response = super().handle_error_response(request, error)
        return response

    def authorization_error(self, request: Any, error: OAuth2Error) -> Response:
        """An error redirect to a validated redirect_uri, with ``state`` and ``iss``."""
        response: Response = self.handle_error_response(request, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response


def presented_auth_method(request: Any) -> str:
    """The one client authentication method this request's credentials amount to.

    RFC 6749 §2.3: a client MUST NOT use more than one method in a request; credentials of
    two methods together (Basic and a body secret, an assertion and a secret) are refused as
    invalid_request rather than one of them being picked.
    """
    form = request.form
    presented = [
        method
        for method, present in (
            ("client_secret_basic", bool(request.headers.get("Authorization"))),
            ("private_key_jwt", "client_assertion" in form or "client_assertion_type" in form),
            ("client_secret_post", "client_secret" in form),
        )
        if present
    ]
    if len(presented) > 1:
        raise InvalidRequestError("Use one client authentication method per request.")
    return presented[0] if presented else "none"


def _commit(token: dict[str, Any], request: Any) -> None:
    """authlib's save_token hook: the grant types added the rows; make them durable."""
    db.session.commit()


def build_authorization_server(app: Flask) -> TesseraAuthorizationServer:
    server = TesseraAuthorizationServer(app)
    app.extensions[EXTENSION_KEY] = server
    dpop.init_app(app)  # DPoP-Nonce headers (RFC 9449 §8)
    app.register_error_handler(OAuth2Error, _unhandled_oauth_error)
    return server


def _unhandled_oauth_error(error: OAuth2Error) -> Response:
    """An OAuth error raised outside authlib's own handling (e.g. insecure_transport while
    reading the request) is still an RFC 6749 §5.2 answer, never a 500."""
    description = safe_error_description(str(error.get_error_description() or ""))
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    return error_response(error.status_code or 400, error.error, description, headers)


def authorization_server() -> TesseraAuthorizationServer:
    server: TesseraAuthorizationServer = current_app.extensions[EXTENSION_KEY]
    return server

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
    OAuth2Request,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, current_app
from flask import request as flask_request

from app import metrics
from app.errors import error_response, safe_error_description
from app.models.client import AUTH_METHODS, PRIVATE_KEY_JWT, PUBLIC_AUTH_METHOD, SECRET_AUTH_METHODS
from app.oauth import dpop, dpop_binding
from app.oauth.authlib_seam import (
    AUTHENTICATE_NONE,
    ClientAuthMethod,
    add_issuer_parameter,
    authenticate_method,
    build_grant,
)
from app.oauth.client_auth import (
    GENERIC_FAILURE,
    PrivateKeyJWT,
    presented_credentials,
    registered_method,
    secret_client,
)
from app.oauth.device import DeviceAuthorization, DeviceCodeGrant
from app.oauth.dpop_binding import DPoPBinding, DPoPKeyParameter
from app.oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from app.oauth.logout import EndSession
from app.oauth.oidc import OpenIDCode
from app.oauth.par import AUTHORIZATION_PATH, RequirePushedRequests, authorization_request
from app.oauth.pkce import S256CodeChallenge
from app.oauth.request_object import RefuseRequestObjects
from app.oauth.resource_indicators import ResourceIndicators
from app.oauth.revocation_introspection import Introspection, Revocation
from app.request_log import note_client, note_error
from app.scopes import SCOPES_SUPPORTED
from app.services import clients, tokens
from app.settings import settings

EXTENSION_KEY = "tessera.authorization_server"
GRANT_TYPES = (AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant, DeviceCodeGrant)
TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
CLIENT_ASSERTION_ALGS = ["ES256", "RS256"]


class Issuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: ``iss`` on every authorization response, errors included."""

    def get_issuer(self) -> str:
        return str(settings().oauth_issuer)


class TesseraAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.init_app(app, query_client=clients.find_client, save_token=tokens.save_token_response)
        self.scopes_supported = SCOPES_SUPPORTED
        self.issuer_parameter = Issuer()
        # Client authentication reads the client through Core, outside the ORM session.
        self.client_auth_methods: dict[str, ClientAuthMethod] = {
            PUBLIC_AUTH_METHOD: AUTHENTICATE_NONE,
            PRIVATE_KEY_JWT: PrivateKeyJWT(),
        }
        # The token view has checked grant_type already; /token looks its grant up here.
        self.token_grants_by_type: dict[str, tuple[Any, Any]] = {}
        # Every grant type of GRANT_TYPES (the one table: discovery and the token view read it
        # too), with its extensions; DPoPBinding alone unless named here.
        extensions: dict[Any, list[Any]] = {
            AuthorizationCodeGrant: [
                S256CodeChallenge(),
                OpenIDCode(),
                RequirePushedRequests(),
                RefuseRequestObjects(),
                ResourceIndicators(),
                DPoPKeyParameter(),
                DPoPBinding(),
            ],
        }
        for grant_cls in GRANT_TYPES:  # DeviceCodeGrant serves only while the flow is on
            self.register_grant(grant_cls, extensions.get(grant_cls, [DPoPBinding()]))
        self.register_endpoint(DeviceAuthorization)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(EndSession)
        self.register_extension(self.issuer_parameter)

    def register_grant(self, grant_cls: Any, extensions: Any = None) -> None:
        super().register_grant(grant_cls, extensions)
        if hasattr(grant_cls, "check_token_endpoint"):
            self.token_grants_by_type[grant_cls.GRANT_TYPE] = (grant_cls, extensions)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        """RFC 6749 §2.3: a request uses one authentication method, chosen by what it carries.

        authlib tries each allowed method in turn, so a public client sending a wrong secret
        in a Basic header would fall through to ``none`` and succeed; here the credentials
        present decide the only method that may be tried. The credentials are read once
        (``client_auth.presented_credentials``) and the client once, through Core.
        A client named by the request but registered for another method is told which one
        before any secret or assertion is checked (``client_auth.registered_method``), so the
        answer is the same whether the secret was right or not.
        At the token endpoint a DPoP proof's jti is recorded now, never before.
        """
        credentials = presented_credentials(flask_request)
        if len(credentials.methods) > 1:
            raise InvalidRequestError("Use one client authentication method per request.")
        method = credentials.method
        try:
            if method in SECRET_AUTH_METHODS and credentials.malformed_basic:
                raise ValueError("malformed Basic credentials")
            query = _OnceLookup(_client_query(request, endpoint))
            if credentials.client_id is not None:
                registered_method(query(credentials.client_id), method)
            if method not in methods:
                client = None
            elif method in SECRET_AUTH_METHODS:
                client = secret_client(credentials, method, endpoint, request.form, query)
            else:  # private_key_jwt and none: authlib's checks, with the Core lookup
                client = authenticate_method(
                    method,
                    self.client_auth_methods[method],
                    query,
                    request,
                    endpoint,
                )
            if client is None:
                raise InvalidClientError(description=GENERIC_FAILURE)
        # ValueError: a Basic header that is not base64 "id:secret"; RecursionError: an
        # assertion whose JSON nests past the json module's depth limit.
        except (ValueError, RecursionError):
            error = InvalidClientError(description=GENERIC_FAILURE)
            error.status_code = 401
            raise error from None
        except InvalidClientError as error:
            # RFC 6749 §5.2: 401 with a Basic challenge, whichever way the client tried.
            if not error.description:
                error.description = GENERIC_FAILURE
            error.status_code = 401
            raise
        request.auth_method = method
        request.authenticated_client_id = client.client_id  # the per-client budget counts it
        note_client(client.client_id)
        if endpoint == "token":
            dpop_binding.record_proof(request)
        return client

    def create_oauth2_request(self, request: Any) -> Any:
        """A request the view built already is used as is. At /authorize with a request_uri
        (and only there) the pushed parameters replace the query's (RFC 9126 §4)."""
        if isinstance(request, OAuth2Request):
            return request
        if flask_request.path == AUTHORIZATION_PATH:
            pushed = authorization_request()
            if pushed is not None:
                return pushed
        return super().create_oauth2_request(request)

    def create_grant_token_response(self, grant_type: str, request: OAuth2Request) -> Response:
        """authlib's ``create_token_response`` for a grant_type the token view already checked:
        the grant class is picked by name instead of asking every registered grant again."""
        grant_cls, extensions = self.token_grants_by_type.get(grant_type, (None, None))
        response: Response
        try:
            # Not registered, or not now (e.g. the device flow switched off).
            if grant_cls is None or not grant_cls.check_token_endpoint(request):
                raise UnsupportedGrantTypeError(grant_type)
            grant = build_grant(grant_cls, extensions, request, self)
            grant.validate_token_request()
            response = self.handle_response(*grant.create_token_response())
        except OAuth2Error as error:
            metrics.token_error(error.error)
            response = self.handle_error_response(request, error)
        return response

    def get_authorization_grant(self, request: Any) -> Any:
        try:
            return super().get_authorization_grant(request)
        # authlib put an unprintable response_type in its description (authlib_seam item 9)
        except ValueError:
            raise UnsupportedResponseTypeError("response_type is not supported.", "") from None

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Errors never echo control characters (RFC 6749 §5.2 limits the character set)."""
        dpop_binding.keep_proof_after_error(request)
        note_error(error.error)
        if error.description:
            error.description = safe_error_description(str(error.description))[:300]
        response: Response = super().handle_error_response(request, error)
        return response

    def authorization_error(self, request: Any, error: OAuth2Error) -> Response:
        """An error redirect to a validated redirect_uri, with ``state`` and ``iss``."""
        response: Response = self.handle_error_response(request, error)
        add_issuer_parameter(self.issuer_parameter, self, response)
        return response


class _OnceLookup:
    """A client lookup that reads each client_id once per request: the registered-method
    check and the method's own check share the row."""

    def __init__(self, query: Any) -> None:
        self._query = query
        self._found: dict[str, Any] = {}

    def __call__(self, client_id: str) -> Any:
        if client_id not in self._found:
            self._found[client_id] = self._query(client_id)
        return self._found[client_id]


def _client_query(request: Any, endpoint: str) -> Any:
    """The client lookup: for a client_credentials token, with the client's own authorization."""
    if endpoint == "token" and request.payload.grant_type == "client_credentials":
        return lambda client_id: clients.find_client_record(client_id, own_authorization=True)
    return clients.find_client_record


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

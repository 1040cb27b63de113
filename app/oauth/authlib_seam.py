"""The seam between Tessera and authlib: every reliance on authlib beyond its documented hooks.

authlib is used through its public, documented extension points (``query_client``,
``save_authorization_code``, ``authenticate_refresh_token``, ``resolve_client_public_key`` and
the like). Where Tessera needs more than that (an authlib name, a hook fired in a given place,
a private shape), it is done here and only here, and ``tests/oauth/test_authlib_contract.py``
checks each item against the installed authlib so an upgrade that changes one fails loudly.

1. Hook names (``TOKEN_RESPONSE_HOOK``, ``AUTHORIZATION_PAYLOAD_HOOK``). Grant extensions
   (DPoP binding, PAR, resource indicators, request objects, ``dpop_jkt``) register on them;
   authlib fires the first before every grant's ``create_token_response`` and the second
   after the client and redirect URI are validated, so an error there is redirected.
2. ``token_response_hooks``: authlib's own ``hooked`` decorator, naming the token-response
   hooks explicitly, for a grant that issues tokens in a method of its own (the device grant
   polls inside it, so the DPoP check runs before a device code can be redeemed). No module
   calls ``execute_hook`` by hand.
3. ``build_grant``: a grant instance built the way authlib's ``get_token_grant`` builds it
   (``cls(request, server)``, then each extension called with the grant), for the token view
   that already knows the grant type.
4. ``authenticate_method``: one client authentication method, checked as one turn of authlib's
   ``ClientAuthentication`` loop (the method's function, then ``check_endpoint_auth_method``,
   and "none" only for a client registered public). Tessera picks the one method the request
   presents, so it never sets the server's private ``_client_auth`` registry, and a failure is
   ``None`` (Tessera's own "Client authentication failed."), never authlib's English text.
   ``AUTHENTICATE_NONE`` is authlib's function for "none" (not in its module's ``__all__``).
5. ``read_basic_authorization``: authlib's parsing of an HTTP Basic header (RFC 6749 §2.3.1
   form-decoding), which raises ``ValueError`` for a header that is not base64 "id:secret".
6. ``ParametersRequest``: authlib's Flask request object with its ``payload`` replaced by
   given parameters (a pushed authorization request, RFC 9126 §4). Relies on authlib's grants
   reading parameters only through ``request.payload`` and ``request.args``.
7. ``add_issuer_parameter``: RFC 9207 ``iss`` added by hand to an error redirect that does not
   pass through authlib's ``after_create_authorization_response`` hook.
8. ``OVERRIDES``: every authlib method a Tessera class overrides, with the parameters Tessera's
   override expects authlib to call it with. The contract test checks each signature, and that
   no Tessera subclass overrides an authlib method missing from this table.
9. ``OAuth2Error`` refuses a description with characters outside RFC 6749 §5.2 by raising
   ``ValueError``; authlib's ``get_authorization_grant`` puts the requested response_type in
   one, and ``server.TesseraAuthorizationServer`` answers that unsupported_response_type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Payload, grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_none
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant as BaseDeviceCodeGrant
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

# 1. Hook names authlib fires.
TOKEN_RESPONSE_HOOK = "before_create_token_response"  # noqa: S105 - a hook name
AFTER_TOKEN_RESPONSE_HOOK = "after_create_token_response"  # noqa: S105 - a hook name
AUTHORIZATION_PAYLOAD_HOOK = "after_validate_authorization_request_payload"


# 2. authlib's hook decorator, for a grant's own token-issuing method.
def token_response_hooks(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run the ``before``/``after_create_token_response`` hooks around ``method``."""
    decorated: Callable[..., Any] = hooked(
        method, before=TOKEN_RESPONSE_HOOK, after=AFTER_TOKEN_RESPONSE_HOOK
    )
    return decorated


# 3. A grant as authlib builds one.
def build_grant(grant_cls: Any, extensions: Any, request: Any, server: Any) -> Any:
    grant = grant_cls(request, server)
    for extension in extensions or ():
        extension(grant)
    return grant


# 4. One client authentication method, as one turn of authlib's ClientAuthentication loop.
ClientAuthMethod = Callable[[Callable[[str], Any], Any], Any]


def authenticate_method(
    method: str,
    authenticate: ClientAuthMethod,
    query_client: Callable[[str], Any],
    request: Any,
    endpoint: str,
) -> Any | None:
    """The client that ``authenticate`` (an authlib method function) finds, if it may use
    ``method`` at ``endpoint``; None otherwise. authlib's own errors (an unknown client, a bad
    assertion) propagate."""
    client = authenticate(query_client, request)
    if not client or not client.check_endpoint_auth_method(method, endpoint):
        return None
    # RFC 6749 §3.2.1: confidential clients MUST authenticate.
    if method == "none" and not client.check_endpoint_auth_method("none", "token"):
        return None
    return client


AUTHENTICATE_NONE: ClientAuthMethod = authenticate_none  # authlib's "none" method


# 5. HTTP Basic credentials.
def read_basic_authorization(header: str) -> tuple[str | None, str | None]:
    """``(client_id, secret)`` of a Basic header; ``ValueError`` when it is malformed."""
    client_id, secret = extract_basic_authorization({"Authorization": header})
    return client_id, secret


# 6. authlib's request object with given parameters.
class ParametersPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, parameters: MultiDict[str, str]) -> None:
        self._parameters = parameters

    @property
    def data(self) -> MultiDict[str, str]:
        return self._parameters

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {key: self._parameters.getlist(key) for key in self._parameters}


class ParametersRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """The current Flask request, read by authlib with ``parameters`` as its payload and
    query string (the HTTP request's own query and form are not consulted)."""

    def __init__(self, parameters: MultiDict[str, str]) -> None:
        super().__init__(flask_request)
        self.payload = ParametersPayload(parameters)

    @property
    def args(self) -> MultiDict[str, str]:
        return self.payload.data


# 7. RFC 9207 on an error redirect made outside authlib's authorization response.
def add_issuer_parameter(extension: IssuerParameter, server: Any, response: Any) -> None:
    extension.add_issuer_parameter(server, response)


# 8. Every authlib method Tessera overrides: (authlib class, name, parameters it is called with).
OVERRIDES: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    # server.TesseraAuthorizationServer
    (AuthorizationServer, "__init__", ("self", "app", "query_client", "save_token")),
    (AuthorizationServer, "init_app", ("self", "app", "query_client", "save_token")),
    (AuthorizationServer, "register_grant", ("self", "grant_cls", "extensions")),
    (AuthorizationServer, "authenticate_client", ("self", "request", "methods", "endpoint")),
    (AuthorizationServer, "create_oauth2_request", ("self", "request")),
    (AuthorizationServer, "get_authorization_grant", ("self", "request")),
    (AuthorizationServer, "handle_error_response", ("self", "request", "error")),
    (IssuerParameter, "get_issuer", ("self",)),
    # grants.*
    (grants.BaseGrant, "generate_token",
     ("self", "user", "scope", "grant_type", "expires_in", "include_refresh_token")),
    (grants.AuthorizationCodeGrant, "validate_authorization_redirect_uri", ("request", "client")),
    (grants.AuthorizationCodeGrant, "save_authorization_code", ("self", "code", "request")),
    (grants.AuthorizationCodeGrant, "query_authorization_code", ("self", "code", "client")),
    (grants.AuthorizationCodeGrant, "delete_authorization_code",
     ("self", "authorization_code")),
    (grants.AuthorizationCodeGrant, "authenticate_user", ("self", "authorization_code")),
    (grants.RefreshTokenGrant, "authenticate_refresh_token", ("self", "refresh_token")),
    (grants.RefreshTokenGrant, "authenticate_user", ("self", "refresh_token")),
    (grants.RefreshTokenGrant, "revoke_old_credential", ("self", "refresh_token")),
    (grants.ClientCredentialsGrant, "validate_token_request", ("self",)),
    # device.*
    (BaseDeviceCodeGrant, "check_token_endpoint", ("cls", "request")),
    (BaseDeviceCodeGrant, "validate_token_request", ("self",)),
    (BaseDeviceCodeGrant, "create_token_response", ("self",)),
    (DeviceAuthorizationEndpoint, "create_endpoint_response", ("self", "request")),
    (DeviceAuthorizationEndpoint, "get_verification_uri", ("self",)),
    # client_auth.PrivateKeyJWT
    (JWTBearerClientAssertion, "__init__", ("self", "token_url", "validate_jti", "leeway")),
    (JWTBearerClientAssertion, "get_audiences", ("self",)),
    (JWTBearerClientAssertion, "extract_assertion", ("self", "assertion")),
    (JWTBearerClientAssertion, "verify_claims", ("self", "claims")),
    (JWTBearerClientAssertion, "validate_jti", ("self", "claims", "jti")),
    (JWTBearerClientAssertion, "resolve_client_public_key", ("self", "client")),
    (JWTBearerClientAssertion, "authenticate_client", ("self", "client")),
    # pkce.S256CodeChallenge
    (CodeChallenge, "__init__", ("self", "required")),
    (CodeChallenge, "validate_code_challenge", ("self", "grant", "redirect_uri")),
    (CodeChallenge, "validate_code_verifier", ("self", "grant", "result")),
    # oidc.OpenIDCode
    (OpenIDCode, "__init__", ("self", "require_nonce")),
    (OpenIDCode, "exists_nonce", ("self", "nonce", "request")),
    (OpenIDCode, "get_client_algorithm", ("self", "client")),
    (OpenIDCode, "resolve_client_private_key", ("self", "client")),
    (OpenIDCode, "get_encode_header", ("self", "client")),
    (OpenIDCode, "get_client_claims", ("self", "client")),
    (OpenIDCode, "generate_user_info", ("self", "user", "scope")),
    # revocation_introspection.Revocation / Introspection
    (RevocationEndpoint, "authenticate_token", ("self", "request", "client")),
    (RevocationEndpoint, "query_token", ("self", "token_string", "token_type_hint")),
    (RevocationEndpoint, "revoke_token", ("self", "token", "request")),
    (IntrospectionEndpoint, "query_token", ("self", "token_string", "token_type_hint")),
    (IntrospectionEndpoint, "check_permission", ("self", "token", "client", "request")),
    (IntrospectionEndpoint, "create_introspection_payload", ("self", "token")),
    # logout.EndSession
    (EndSessionEndpoint, "get_server_jwks", ("self",)),
    (EndSessionEndpoint, "validate_request", ("self", "request")),
    (EndSessionEndpoint, "resolve_client_from_id_token_claims", ("self", "id_token_claims")),
    (EndSessionEndpoint, "end_session", ("self", "end_session_request")),
    # par.ParametersRequest (above)
    (OAuth2Payload, "data", ()),
    (OAuth2Payload, "datalist", ()),
    (FlaskOAuth2Request, "__init__", ("self", "request")),
    (FlaskOAuth2Request, "args", ()),
)  # fmt: skip

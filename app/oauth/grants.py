"""authlib grant types with Tessera's storage hooks.

Every grant issues tokens through ``TokenIssuingMixin``, so each token is tied to an authorization
record and minted the same way (RFC 9068 access token, rotated refresh token).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
)

from app.extensions import db
from app.features import Feature, feature_enabled
from app.models import Authorization, AuthorizationCode, Client, User
from app.models.client import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from app.models.types import utcnow
from app.oauth import resource_indicators
from app.oauth.dpop_binding import TOKEN_TYPE as DPOP_TOKEN_TYPE
from app.oauth.dpop_binding import request_jkt
from app.scopes import has_scope, includes, scope_names
from app.services import authorization_codes, authorizations, refresh_rotation, tokens
from app.services.refresh_rotation import RefreshTokenRecord
from app.settings import settings


class TokenIssuingMixin:
    """Mint tokens for the authorization of the current request (set by each grant type)."""

    request: Any
    GRANT_TYPE: str
    # RFC 8707: True lets a token request name any known resource (no authorization to narrow).
    ANY_KNOWN_RESOURCE = False
    # RFC 6749 §3.3: only a client acting for itself gets its registered scope when it asks
    # for none. A user's authorization holds what they approved; an empty approval stays empty.
    EMPTY_SCOPE_MEANS_REGISTERED = False

    def authorization_record(self) -> Authorization:
        raise NotImplementedError

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: Client = self.request.client
        record = self.authorization_record()
        scope = self.token_scope(client, scope)
        audience = resource_indicators.token_audience(
            self.request, None if self.ANY_KNOWN_RESOURCE else record
        )
        jkt = request_jkt(self.request)  # RFC 9449 §5: bind to the proven key
        token: dict[str, Any] = {
            "token_type": DPOP_TOKEN_TYPE if jkt else "Bearer",
            "access_token": tokens.issue_access_token(
                client, record, user, scope, audience=audience, jkt=jkt
            ),
            "expires_in": int(settings().oauth_access_token_ttl),
            "scope": scope,
        }
        successor_scope = (
            self.refresh_scope(scope)
            if include_refresh_token and self.may_refresh(client, record)
            else None
        )
        # RFC 9449 §5: a public client's refresh token is bound to the proven key too
        refresh_token = self.store_refresh_token(
            record, successor_scope, jkt if client.is_public else None
        )
        if refresh_token is not None:
            token["refresh_token"] = refresh_token
        return token

    def store_refresh_token(
        self, record: Authorization, scope: str | None, jkt: str | None
    ) -> str | None:
        """The refresh token to hand out with the access token (None: none, ``scope`` None)."""
        return None if scope is None else tokens.issue_refresh_token(record, scope, dpop_jkt=jkt)

    def token_scope(self, client: Client, scope: str | None) -> str:
        """The scope of the token: the requested scopes the client may have."""
        if scope or self.EMPTY_SCOPE_MEANS_REGISTERED:
            scope = client.get_allowed_scope(scope)
        return scope or ""

    def may_refresh(self, client: Client, record: Authorization) -> bool:
        """RFC 9700 §4.14 / OIDC Core §11: refresh tokens only with offline_access."""
        return has_scope(record.scope, "offline_access") and client.check_grant_type(
            "refresh_token"
        )

    def refresh_scope(self, scope: str) -> str:
        return scope


class AuthorizationCodeGrant(TokenIssuingMixin, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """RFC 6749 §4.1 with single-use, hashed, 60-second codes bound to client and PKCE."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        """RFC 6749 §3.1.2.3: exact match; without redirect_uri only if one is registered."""
        requested = request.payload.redirect_uri
        if requested:
            if not client.check_redirect_uri(requested):
                raise InvalidRequestError("redirect_uri is not registered for this client.")
            return str(requested)
        default = client.get_default_redirect_uri()
        if not default:
            raise InvalidRequestError("redirect_uri is required for this client.")
        return default

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Store the code and the authorization it issues under; ``request.user`` is an Approval."""
        approval = request.user
        signed_in = approval.user
        data = request.payload.data
        authorization_codes.store(
            code,
            authorization_codes.CodeRequest(
                client=request.client,
                user=signed_in.user,
                scope=approval.scope,
                auth_time=signed_in.authenticated_at,
                redirect_uri=request.payload.redirect_uri or "",
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                nonce=data.get("nonce"),
                dpop_jkt=data.get("dpop_jkt") if feature_enabled(Feature.DPOP) else None,
                resources=tuple(resource_indicators.authorization_resources(request)),
            ),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """The code if it was issued to ``client``. A used code is returned too, so that a
        replay that passes client authentication and PKCE can revoke what the code issued."""
        return authorization_codes.find(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept (marked used) until ``tokens purge``, so a replay can be recognised."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        """Consume the code, exactly once (RFC 6749 §4.1.2; RFC 9700 §4.2.4)."""
        if not authorization_codes.spend(authorization_code):
            authorization_codes.refuse_replay(authorization_code)
            raise InvalidGrantError("The authorization code was already used.")
        user = db.session.get(User, authorization_code.user_id)
        return user if user is not None and user.is_active else None

    def authorization_record(self) -> Authorization:
        record = db.session.get(Authorization, self.request.authorization_code.authorization_id)
        if record is None or not record.is_active(utcnow()):
            raise InvalidGrantError("The authorization was revoked.")
        return record


class RefreshTokenGrant(TokenIssuingMixin, grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2).

    authlib checks the client, its refresh_token grant type, that the token is the client's
    and the scope narrowing; ``DPoPBinding`` runs before anything is spent. The token, its
    authorization and its user come from one query (``refresh_rotation.read``); the access token is
    signed first, then ``refresh_rotation.consume`` spends the token and stores its successor
    in one short transaction that the service commits.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    INVALID = "The refresh token is invalid, expired or already used."

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshTokenRecord | None:
        return refresh_rotation.read(refresh_token)

    def authenticate_user(self, refresh_token: RefreshTokenRecord) -> User | None:
        """The authorization's active user (read with the token). A spent token is reuse."""
        if not refresh_token.usable(utcnow()):
            raise InvalidGrantError(self.INVALID)
        if refresh_token.used_at is not None:
            try:
                refresh_rotation.refuse_reuse(refresh_token)
            except refresh_rotation.RefreshTokenReused:
                raise InvalidGrantError(self.INVALID) from None
        return refresh_token.user()

    def store_refresh_token(
        self, record: Authorization, scope: str | None, jkt: str | None
    ) -> str | None:
        """Called after the access token is signed (the slow part): spends the presented token
        and stores its successor in one transaction, so a spent refresh token never mints."""
        try:
            return refresh_rotation.consume(self.request.refresh_token, scope, dpop_jkt=jkt)
        except refresh_rotation.RefreshTokenReused:
            raise InvalidGrantError(self.INVALID) from None

    def revoke_old_credential(self, refresh_token: RefreshTokenRecord) -> None:
        """Already spent by ``store_refresh_token``."""

    def authorization_record(self) -> Authorization:
        authorization: Authorization = self.request.refresh_token.authorization
        return authorization

    def refresh_scope(self, scope: str) -> str:
        """A narrowed refresh keeps the refresh token's original reach (RFC 6749 §6)."""
        return str(self.request.refresh_token.scope)


class ClientCredentialsGrant(TokenIssuingMixin, grants.ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 §4.4: confidential clients acting for themselves; never a refresh token.

    The scope is decided once, here, with authlib's rules in authlib's order (the server's
    supported scopes, then the client's registered ones; none asked: all registered).
    """

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS
    ANY_KNOWN_RESOURCE = True
    granted_scope = ""

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(
                f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'"
            )
        self.request.client = client
        asked = self.request.payload.scope
        requested = scope_names(asked)
        if not includes(self.server.scopes_supported, requested):
            raise InvalidScopeError()
        if not includes(client.scope, requested):
            raise InvalidScopeError("The client may not ask for this scope.")
        self.granted_scope = " ".join(requested if asked else scope_names(client.scope))

    def token_scope(self, client: Client, scope: str | None) -> str:
        return self.granted_scope

    def authorization_record(self) -> Authorization:
        return authorizations.client_credentials_authorization(self.request.client)

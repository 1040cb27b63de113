"""Revocation (RFC 7009) and introspection (RFC 7662) on Tessera's token model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from app import metrics
from app.extensions import db
from app.models import Authorization, Client, RefreshToken
from app.models.client import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from app.models.types import utcnow
from app.services import resources, tokens
from app.services.tokens import InvalidToken
from app.settings import settings

TOKEN_TYPES = ("access_token", "refresh_token")


@dataclass
class FoundToken:
    """A token presented to /revoke or /introspect: an access token's claims or a refresh row."""

    client_id: str
    claims: dict[str, Any] | None = None
    refresh: RefreshToken | None = None
    user_id: int | None = None

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id


def find_token(token: str, hint: str | None, *, verified: bool) -> FoundToken | None:
    """Look the token up as either kind; the hint only decides which kind is tried first.

    ``verified`` asks for a still-valid access token (introspection); revocation accepts any
    access token we signed that has not expired.
    """
    kinds = sorted(TOKEN_TYPES, key=lambda kind: kind != hint)
    for kind in kinds:
        found = _find_access(token, verified) if kind == "access_token" else _find_refresh(token)
        if found is not None:
            return found
    return None


def _find_access(token: str, verified: bool) -> FoundToken | None:
    if token.count(".") != 2:
        return None
    if verified:
        try:
            access = tokens.check_access_token(token)
        except InvalidToken:
            return None
        return FoundToken(access.client_id, claims=access.claims, user_id=access.user_id)
    claims = tokens.read_access_token_claims(token)
    return FoundToken(str(claims["client_id"]), claims=claims) if claims else None


def _find_refresh(token: str) -> FoundToken | None:
    row = tokens.find_refresh_token(token)
    return FoundToken(row.client_id, refresh=row) if row else None


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token revokes its authorization (every access token of it);
    revoking an access token deny-lists that token only. A token of another client, or an
    unknown one, is answered 200 and left alone (§2.2)."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = TOKEN_TYPES

    def authenticate_token(self, request: Any, client: Client) -> FoundToken | None:
        self.check_params(request, client)
        found = find_token(
            request.form["token"], request.form.get("token_type_hint"), verified=False
        )
        return found if found is not None and found.check_client(client) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> None:
        raise NotImplementedError  # authenticate_token looks tokens up itself

    def revoke_token(self, token: FoundToken, request: Any) -> None:
        tokens.revoke(token.refresh.authorization_id if token.refresh else None, token.claims)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662. A client introspects its own tokens (access and refresh); a client flagged
    as a resource server also the access tokens whose ``aud`` names an audience it serves
    (§4: never another audience's token, never a refresh token). Whatever is not active, or
    not the caller's to know about, answers exactly ``{"active": false}``."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = TOKEN_TYPES

    def query_token(self, token_string: str, token_type_hint: str | None) -> FoundToken | None:
        return find_token(token_string, token_type_hint, verified=True)

    def check_permission(self, token: FoundToken, client: Client, request: Any) -> bool:
        if token.check_client(client):
            return True
        return token.claims is not None and resources.may_learn_about(
            client, token.claims.get("aud")
        )

    def create_introspection_payload(self, token: FoundToken | None) -> dict[str, Any]:
        payload = _payload(token)
        metrics.introspection(payload["active"])
        return payload


def _payload(token: FoundToken | None) -> dict[str, Any]:
    if token is None:
        return {"active": False}
    if token.claims is not None:
        return _access_token_payload(token)
    assert token.refresh is not None
    return _refresh_token_payload(token.refresh)


def _access_token_payload(token: FoundToken) -> dict[str, Any]:
    claims = token.claims or {}
    names = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "cnf")
    token_type = "DPoP" if "cnf" in claims else "Bearer"  # RFC 9449 §6.2
    return {"active": True, "token_type": token_type} | {
        name: claims[name] for name in names if name in claims
    }


def _refresh_token_payload(row: RefreshToken) -> dict[str, Any]:
    authorization = db.session.get(Authorization, row.authorization_id)
    now = utcnow()
    if (
        authorization is None
        or not authorization.is_active(now)
        or row.used_at
        or row.expires_at <= now
    ):
        return {"active": False}
    payload: dict[str, Any] = {
        "active": True,
        "token_type": "refresh_token",
        "scope": row.scope,
        "client_id": row.client_id,
        "iss": settings().oauth_issuer,
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.created_at.timestamp()),
    }
    if authorization.user_id is not None:
        payload["sub"] = str(authorization.user_id)
    if row.dpop_jkt:  # a public client's refresh token bound to its DPoP key (RFC 9449 §5)
        payload["cnf"] = {"jkt": row.dpop_jkt}
    return payload

"""OpenID Connect Core: ID tokens for the code flow and the claims behind each scope."""

from __future__ import annotations

import time
from typing import Any, Protocol

from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode
from joserfc.jwk import Key
from sqlalchemy import exists, select

from app.extensions import db
from app.models import AuthorizationCode, Client, User
from app.services import keys
from app.settings import settings


class ClaimsSubject(Protocol):
    """What the claims are made of: a User, or the ``UserProfile`` read with a token."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def email(self) -> str: ...


def user_claims(user: ClaimsSubject, scope: str) -> UserInfo:
    """Claims by scope (OIDC Core §5.4): profile gives names, email gives the address."""
    scopes = set(scope.split())
    claims = UserInfo(sub=str(user.id))
    if "profile" in scopes:
        claims["name"] = user.username
        claims["preferred_username"] = user.username
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = False
    return claims


class OpenIDCode(_OpenIDCode):  # type: ignore[misc]
    """ID tokens signed with the client's registered alg (ES256 by default, or RS256)."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        AuthorizationCode.client_id == request.payload.client_id,
                        AuthorizationCode.nonce == nonce,
                    )
                )
            )
        )

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_signed_response_alg

    def resolve_client_private_key(self, client: Client) -> Key:
        return keys.active_key(self.get_client_algorithm(client))[1]

    def get_encode_header(self, client: Client) -> dict[str, str]:
        alg = self.get_client_algorithm(client)
        return {"alg": alg, "kid": keys.active_key(alg)[0]}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        config = settings()
        return {
            "iss": config.oauth_issuer,
            "aud": [client.client_id],
            "azp": client.client_id,
            "exp": int(time.time()) + int(config.oauth_id_token_ttl),
        }

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return user_claims(user, scope)

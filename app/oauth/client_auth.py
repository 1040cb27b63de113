"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9).

authlib checks the signature, iss = sub = client_id and exp; Tessera adds: ``aud`` is the
issuer identifier as one string (draft-ietf-oauth-rfc7523bis: after the 2025 audience
injection disclosure, neither endpoint URLs nor arrays), the key comes only from the client's
registered jwks / jwks_uri (never from the assertion's headers; a jwks_uri is fetched through
``services.outbound`` and cached by ``services.client_jwks``), the assertion expires at most
5 minutes ahead, iat and nbf are not in the future, and each jti is accepted once across all
workers (a primary-key insert).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, g
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Client, UsedClientAssertion
from app.security import hash_token
from app.services.client_jwks import JWKSUnavailable, client_jwks

MAX_ASSERTION_LIFETIME = 300
CLOCK_LEEWAY = 10
_KID = "tessera_assertion_kid"


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY)

    def get_audiences(self) -> list[str]:
        return [str(current_app.config["OAUTH_ISSUER"])]

    def extract_assertion(self, assertion: str) -> Any:
        headers, claims = super().extract_assertion(assertion)
        kid = headers.get("kid")
        setattr(g, _KID, kid if isinstance(kid, str) else None)  # which key to look for
        return headers, claims

    def verify_claims(self, claims: Any) -> None:
        if claims.get("aud") != current_app.config["OAUTH_ISSUER"]:
            raise InvalidClientError(description="Assertion aud must be the issuer identifier.")
        now = int(time.time())
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if isinstance(exp, int) and exp > now + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY:
            raise InvalidClientError(description="Assertion exp is too far in the future.")
        for name, value in (("iat", iat), ("nbf", nbf)):
            if value is not None and (not isinstance(value, int) or value > now + CLOCK_LEEWAY):
                raise InvalidClientError(description=f"Assertion {name} is in the future.")
        super().verify_claims(claims)

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        """Record the jti; a second use fails on the primary key in any worker or host."""
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        key = hash_token(f"{claims['sub']} {jti}")
        try:
            db.session.add(UsedClientAssertion(key=key, expires_at=expires_at))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        return True

    def resolve_client_public_key(self, client: Client) -> KeySet:
        metadata = client.client_metadata
        try:
            if "jwks" in metadata:
                return KeySet.import_key_set(metadata["jwks"])
            if "jwks_uri" in metadata:
                kid = g.get(_KID)
                jwks = client_jwks(client.client_id, metadata["jwks_uri"], kid)
                return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError, JWKSUnavailable) as exc:
            raise InvalidClientError(description="The client's keys could not be loaded.") from exc
        raise InvalidClientError(description="The client has no registered keys.")

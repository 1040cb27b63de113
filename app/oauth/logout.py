"""OpenID Connect RP-Initiated Logout 1.0 (``end_session_endpoint``).

authlib parses the request and allows only an exactly registered ``post_logout_redirect_uri``
of the client the hint names. We add what it leaves open (pen-test case 3, LO-01):

- ``id_token_hint`` must be an ID token of this issuer. Access tokens are signed by the same
  keys, so a valid signature is not enough: the hint must not be typed ``at+jwt`` nor carry
  an access token's claims, and must name ``iss``, ``sub`` and ``aud``. Expiry is ignored (§2).
- The browser is signed out at once only when the hint's ``sub`` is the signed-in user; no
  hint or someone else's asks first (§6), on a CSRF-protected form.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc import jws
from joserfc.errors import JoseError

from app.services import keys
from app.settings import settings

# Claims every access token of ours carries (services/tokens.py) and no ID token does.
ACCESS_TOKEN_CLAIMS = ("scope", "client_id", "gid")
ID_TOKEN_TYPES = (None, "JWT")  # RFC 7519 §5.1; access tokens are "at+jwt" (RFC 9068)
MAX_HINT_LENGTH = 8192
# What the confirmation form posts back (§2); logout_hint and ui_locales are not used.
CARRIED_PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> dict[str, Any]:
        """Active and previous keys: an ID token issued before a rotation still names its
        client."""
        return keys.public_jwks()

    def validate_request(self, request: Any) -> EndSessionRequest:
        hint = request.payload.data.get("id_token_hint")
        if hint:
            check_id_token_hint(hint)
        return super().validate_request(request)

    def resolve_client_from_id_token_claims(self, id_token_claims: dict[str, Any]) -> Any:
        """Our ID tokens name their client in ``azp`` (and ``aud`` is a one-element list)."""
        aud = id_token_claims.get("aud")
        client_id = id_token_claims.get("azp") or (
            aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
        )
        return self.server.query_client(client_id) if isinstance(client_id, str) else None

    def end_session(self, end_session_request: Any) -> None:
        """The browser session is ended by the view (it owns the cookie)."""


def check_id_token_hint(hint: str) -> None:
    """Raise ``invalid_request`` unless ``hint`` has the shape of an ID token we issued.

    The signature is verified by authlib right after, against the same keys.
    """
    if not isinstance(hint, str) or len(hint) > MAX_HINT_LENGTH:
        raise InvalidRequestError("id_token_hint is not an ID token of this server.")
    try:
        compact = jws.extract_compact(hint.encode("ascii"))
        header, claims = compact.headers(), json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeEncodeError, RecursionError) as exc:
        raise InvalidRequestError("id_token_hint is not a JWT.") from exc
    if not _is_our_id_token(header, claims):
        raise InvalidRequestError("id_token_hint is not an ID token of this server.")


def _is_our_id_token(header: dict[str, Any], claims: Any) -> bool:
    if header.get("typ") not in ID_TOKEN_TYPES or not isinstance(claims, dict):
        return False
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return (
        claims.get("iss") == settings().oauth_issuer
        and isinstance(claims.get("sub"), str)
        and bool(audiences)
        and all(isinstance(name, str) for name in audiences)
        and not any(name in claims for name in ACCESS_TOKEN_CLAIMS)
    )


def needs_confirmation(validated: EndSessionRequest, signed_in_sub: str | None) -> bool:
    """§6: ask before ending a session the request may not be about.

    Nobody signed in: nothing to end, so nothing to ask. Otherwise the hint's ``sub`` must be
    the signed-in user's.
    """
    if signed_in_sub is None:
        return False
    claims = validated.id_token_claims
    return claims is None or claims.get("sub") != signed_in_sub

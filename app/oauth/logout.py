"""OpenID Connect RP-Initiated Logout 1.0 (``end_session_endpoint``).

authlib validates ``id_token_hint`` against our keys and allows only an exactly registered
``post_logout_redirect_uri``; the view signs the browser out before answering.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.rpinitiated import EndSessionEndpoint

from app.services import keys


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> dict[str, Any]:
        return keys.public_jwks()

    def resolve_client_from_id_token_claims(self, id_token_claims: dict[str, Any]) -> Any:
        """Our ID tokens name their client in ``azp`` (and ``aud`` is a one-element list)."""
        aud = id_token_claims.get("aud")
        client_id = id_token_claims.get("azp") or (
            aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
        )
        return self.server.query_client(client_id) if isinstance(client_id, str) else None

    def end_session(self, end_session_request: Any) -> None:
        """The browser session is ended by the view (it owns the cookie)."""

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

    def end_session(self, end_session_request: Any) -> None:
        """The browser session is ended by the view (it owns the cookie)."""

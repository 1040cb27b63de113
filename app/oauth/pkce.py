"""PKCE (RFC 7636), stricter than authlib's default: S256 is required of every client.

RFC 9700 §2.1.1 asks for PKCE on every authorization code flow; ``plain`` offers no protection
when the authorization request leaks, so it is refused (a missing method means ``plain`` per
RFC 7636 §4.3, so it is refused too). A code whose verifier fails is burnt (RFC 9700 §4.8.2).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge

from app.services import authorization_codes


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Verify the code_verifier; a wrong or missing one burns the code."""
        if not grant.request.form.get("code_verifier"):
            authorization_codes.burn(grant.request.authorization_code)
            raise InvalidRequestError("Missing code_verifier.")
        try:
            super().validate_code_verifier(grant, result)
        except OAuth2Error:
            authorization_codes.burn(grant.request.authorization_code)
            raise InvalidGrantError("PKCE verification failed.") from None

"""Bearer token protection for Tessera's own resources (RFC 6750).

One place decides the ``WWW-Authenticate`` challenge: no credentials gives a bare challenge
(§3.1: no error code), a bad token ``invalid_token`` (401), a token without the needed scope
``insufficient_scope`` (403) naming the scope. Tokens in the query string are never read.
"""

from __future__ import annotations

from flask import request

from app.errors import TesseraError
from app.services.tokens import AccessToken, InvalidToken, check_access_token

REALM = "tessera"


class BearerError(TesseraError):
    """An RFC 6750 §3 error with its challenge."""

    status = 401
    error = "invalid_token"
    bare = False  # no error code in the challenge (the request carried no token)

    def __init__(
        self,
        description: str,
        *,
        error: str | None = None,
        scope: str | None = None,
        resource_metadata: str | None = None,
    ):
        status = 403 if error == "insufficient_scope" else None
        super().__init__(description, error=error, status=status)
        self.scope = scope
        self.resource_metadata = resource_metadata

    def headers(self) -> dict[str, str]:
        parts = [f'realm="{REALM}"']
        if not self.bare:
            parts += [f'error="{self.error}"', f'error_description="{self.description}"']
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        if self.resource_metadata:  # RFC 9728 §5.1
            parts.append(f'resource_metadata="{self.resource_metadata}"')
        return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


class MissingToken(BearerError):
    bare = True

    def __init__(self, resource_metadata: str | None = None) -> None:
        super().__init__("An access token is required.", resource_metadata=resource_metadata)


def bearer_token(allow_form_body: bool = False) -> str | None:
    """The token from ``Authorization: Bearer`` (or, if allowed, an RFC 6750 §2.2 form body)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if (
        allow_form_body
        and request.method == "POST"
        and request.mimetype == ("application/x-www-form-urlencoded")
    ):
        return request.form.get("access_token") or None
    return None


def require_access_token(
    scope: str | None = None,
    audience: str | None = None,
    allow_form_body: bool = False,
    resource_metadata: str | None = None,
) -> AccessToken:
    """The request's valid access token, holding ``scope``; raises BearerError otherwise.

    ``audience`` restricts tokens to one resource (RFC 9068 §4); ``resource_metadata`` is
    advertised in every challenge (RFC 9728 §5.1).
    """
    token = bearer_token(allow_form_body)
    if token is None:
        raise MissingToken(resource_metadata)
    try:
        access = check_access_token(token, audience)
    except InvalidToken:
        raise BearerError(
            "The access token is invalid, expired or revoked.",
            resource_metadata=resource_metadata,
        ) from None
    if scope and scope not in access.scopes:
        raise BearerError(
            f"This request needs the {scope} scope.",
            error="insufficient_scope",
            scope=scope,
            resource_metadata=resource_metadata,
        )
    return access

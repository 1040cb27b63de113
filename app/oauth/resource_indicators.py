"""Resource indicators (RFC 8707) at the authorization and token endpoints.

``resource`` values are read from authlib's request payload (``payload.datalist``), never from
``flask.request``, so a pushed authorization request is checked exactly like a plain one.
The rules themselves live in ``app.services.resources``.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error

from app.errors import ValidationError
from app.models import Authorization
from app.oauth.authlib_seam import AUTHORIZATION_PAYLOAD_HOOK
from app.services import resources
from app.services.resources import INVALID_TARGET, Audience


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested resource is invalid, missing, unknown, or malformed."""

    error = INVALID_TARGET


def requested_resources(request: Any) -> list[str]:
    """Every ``resource`` parameter of an authlib OAuth2Request (§2: it may repeat)."""
    return [str(value) for value in request.payload.datalist.get("resource", [])]


def authorization_resources(request: Any) -> list[str]:
    """The checked resources of an authorization request (§2.1)."""
    try:
        return resources.check_resources(requested_resources(request))
    except ValidationError as error:
        raise InvalidTargetError(error.description, state=request.payload.state) from None


def token_audience(request: Any, authorization: Authorization | None) -> Audience | None:
    """The access token's ``aud`` for a token request (§2.2); ``authorization`` None: any known."""
    try:
        return resources.token_audience(requested_resources(request), authorization)
    except ValidationError as error:
        raise InvalidTargetError(error.description) from None


def named_on_consent(request: Any) -> list[str]:
    """The requested resources other than the photo API, for the consent page to name."""
    default = resources.default_resource()
    return [resource for resource in requested_resources(request) if resource != default]


class ResourceIndicators:
    """Authorization-code grant extension: ``resource`` is checked with the rest of the
    request, once the client and redirect URI are known, so an error goes back to the
    client with ``state`` and ``iss`` (RFC 6749 §4.1.2.1)."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(AUTHORIZATION_PAYLOAD_HOOK, self.validate)

    def validate(self, grant: Any, redirect_uri: str | None) -> None:
        authorization_resources(grant.request)

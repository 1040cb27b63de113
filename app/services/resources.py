"""Resource indicators (RFC 8707): which resources tokens can be for, and each token's audience.

The known resources are the photo API (``OAUTH_RESOURCE_AUDIENCE``, the ``resource`` of its
RFC 9728 metadata) and ``OAUTH_EXTRA_RESOURCES``. An authorization records the resources it
was asked for on its authorization; a token request may narrow them (§2.2). A request that names no
resource gets the photo API, as before resource indicators existed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.errors import ValidationError
from app.models import Authorization, Client
from app.settings import settings

INVALID_TARGET = "invalid_target"
# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":".
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")

Audience = str | list[str]


def default_resource() -> str:
    """The photo API's identifier: every token's audience unless a resource is named."""
    return str(settings().oauth_resource_audience)


def known_resources() -> list[str]:
    extras = [str(r) for r in settings().oauth_extra_resources]
    return list(dict.fromkeys([default_resource(), *extras]))


def check_resources(values: Sequence[str]) -> list[str]:
    """The requested resources, in order without repeats; ValidationError(invalid_target)
    if one is not an absolute URI, has a fragment (§2) or is not a resource we serve."""
    known = known_resources()
    for value in values:
        if not _ABSOLUTE_URI.match(value):
            raise _invalid_target("resource must be an absolute URI (RFC 8707).")
        if "#" in value:
            raise _invalid_target("resource must not contain a fragment (RFC 8707).")
        if value not in known:
            raise _invalid_target("unknown resource.")
    return list(dict.fromkeys(values))


def granted_resources(authorization: Authorization) -> list[str]:
    """What an authorization may issue tokens for: its indicators, or the default resource."""
    return authorization.resources or [default_resource()]


def token_audience(
    requested: Sequence[str], authorization: Authorization | None
) -> Audience | None:
    """The ``aud`` of an access token (RFC 8707 §2.2, RFC 9068 §3).

    ``requested`` are the token request's ``resource`` values; they must lie within the
    authorization's resources. ``authorization`` None means any known resource
    (client_credentials). None is returned when no resource was ever named: the default
    audience applies.
    """
    resources = check_resources(requested)
    if authorization is not None:
        allowed = granted_resources(authorization)
        if any(resource not in allowed for resource in resources):
            raise _invalid_target("resource is not part of this authorization.")
        resources = resources or authorization.resources
    if not resources:
        return None
    return resources[0] if len(resources) == 1 else resources


def _invalid_target(description: str) -> ValidationError:
    return ValidationError(description, error=INVALID_TARGET)


def served_audiences(client: Client) -> list[str]:
    """The audiences a resource-server client serves (none for other clients)."""
    if not client.is_resource_server:
        return []
    return list(client.resource_audiences or [default_resource()])


def may_learn_about(client: Client, audience: Audience | None) -> bool:
    """RFC 7662 §4: a resource server learns only about tokens meant for it."""
    targets = [audience] if isinstance(audience, str) else list(audience or [])
    return bool(set(served_audiences(client)) & set(targets))

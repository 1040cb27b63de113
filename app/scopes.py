"""The scope catalog: every scope once, with the words people see on the consent page.

It feeds discovery (``scopes_supported``), client registration, the consent page and the
photo API's per-route requirements.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    # openid is always granted once asked for; the others may be unticked on the consent page.
    optional: bool = True


CATALOG: dict[str, Scope] = {
    scope.name: scope
    for scope in (
        Scope("openid", "Confirm that you are you (sign you in)", optional=False),
        Scope("profile", "See your name and username"),
        Scope("email", "See your email address"),
        Scope("offline_access", "Keep this access while you are not using the app"),
        Scope("photos.read", "See your photos"),
        Scope("photos.write", "Upload, rename and delete your photos"),
    )
}

SCOPES_SUPPORTED = list(CATALOG)
DEFAULT_CLIENT_SCOPE = "openid profile email photos.read"


def unknown_scopes(scope: str) -> list[str]:
    return [name for name in scope.split() if name not in CATALOG]


def describe(scope: str) -> list[Scope]:
    """The catalog entries of a space-separated scope string, in catalog order."""
    wanted = set(scope.split())
    return [entry for name, entry in CATALOG.items() if name in wanted]

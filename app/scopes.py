"""The scope catalog: every scope once, with the words people see on the consent page.

It feeds discovery (``scopes_supported``), client registration, the consent page and the
photo API's per-route requirements. The scope arithmetic (RFC 6749 §3.3: a scope is a
space-separated list of case-sensitive names, in no particular order) is here too, so
every "may this client ask for that", "does this consent cover that" and "does this token
hold that" reads the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Scopes = str | Iterable[str]  # a space-separated scope string, or its names


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


def scope_names(scope: str | None) -> list[str]:
    """The distinct names of a scope string, in the order given ("" and None: none)."""
    return list(dict.fromkeys((scope or "").split()))


def _names(scopes: Scopes) -> set[str]:
    return set(scopes.split() if isinstance(scopes, str) else scopes)


def includes(held: Scopes, wanted: Scopes) -> bool:
    """Every name in ``wanted`` is one of ``held``'s (an empty ``wanted`` always is)."""
    return _names(wanted) <= _names(held)


def has_scope(held: str, name: str) -> bool:
    """``held`` (a token's, a grant's, a consent's scope string) names ``name``."""
    return name in held.split()


def allowed_part(requested: str, allowed: str) -> list[str]:
    """The distinct names of ``requested`` that ``allowed`` holds, in the order asked."""
    held = _names(allowed)
    return [name for name in scope_names(requested) if name in held]


def unknown_scopes(scope: str) -> list[str]:
    return [name for name in scope.split() if name not in CATALOG]


def describe(scope: str) -> list[Scope]:
    """The catalog entries of a space-separated scope string, in catalog order."""
    wanted = set(scope.split())
    return [entry for name, entry in CATALOG.items() if name in wanted]

"""The consent decision: what was granted, and a ticket binding the form to its request.

The consent form carries a signed ticket naming the user and a digest of the authorization
request it was shown for (on top of the session's CSRF token), so an approval cannot be
replayed onto a different request (docs/security.md UI-02). Tickets last 10 minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from app.scopes import CATALOG
from app.settings import settings

TICKET_MAX_AGE = 600


@dataclass(frozen=True)
class Approval:
    """Passed to authlib as the ``grant_user``: who approved, and which scopes."""

    user: Any  # SignedInUser
    scope: str

    @property
    def id(self) -> int:
        return int(self.user.id)


def granted_scope(requested: str, ticked: list[str]) -> str:
    """Requested scopes the user left ticked; non-optional ones (openid) always stay."""
    keep = set(ticked)
    return " ".join(
        name
        for name in requested.split()
        if name in keep or (name in CATALOG and not CATALOG[name].optional)
    )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings().secret_key, salt="tessera-consent")


def _digest(args: MultiDict[str, str]) -> str:
    canonical = "&".join(f"{k}={v}" for k, v in sorted(args.items(multi=True)))
    return hashlib.sha256(canonical.encode()).hexdigest()


def issue_ticket(user_id: int, args: MultiDict[str, str]) -> str:
    return str(_serializer().dumps({"u": user_id, "r": _digest(args)}))


def ticket_is_valid(ticket: str | None, user_id: int, args: MultiDict[str, str]) -> bool:
    if not ticket:
        return False
    try:
        data = _serializer().loads(ticket, max_age=TICKET_MAX_AGE)
    except BadSignature:
        return False
    return isinstance(data, dict) and data.get("u") == user_id and data.get("r") == _digest(args)


def display_host(uri: str) -> str:
    """The host (and port) of ``uri`` as the browser will resolve it, in ASCII.

    A look-alike such as ``\u0430pple.test`` (Cyrillic a) is shown as ``xn--pple-43d.test``
    (UTS #46 mapping, then IDNA 2008, as browsers do); a label IDNA refuses is shown as raw
    punycode rather than as Unicode.
    """
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        shown = f"[{host}]"  # IPv6 literal
    else:
        try:
            shown = idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError and codec errors
            shown = ".".join(_raw_punycode(label) for label in host.split("."))
    return f"{shown}:{parts.port}" if parts.port is not None else shown


def _raw_punycode(label: str) -> str:
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")

"""The consent decision: what was granted, and a ticket binding the form to its request.

The consent form carries a signed ticket naming the user and a digest of the authorization
request it was shown for (on top of the session's CSRF token), so an approval cannot be
replayed onto a different request (SECURITY.md UI-02). Tickets last 10 minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from app.scopes import CATALOG

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
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tessera-consent")


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

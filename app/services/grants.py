"""Grants: the record every token points at, and the one place tokens are revoked in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, select, update

from app.extensions import db
from app.models import Client, Grant, User
from app.models.grant import KIND_CLIENT_CREDENTIALS
from app.models.types import utcnow
from app.security import new_token
from app.services import sql
from app.settings import settings


def create_grant(
    kind: str,
    client: Client,
    user: User | None,
    scope: str,
    auth_time: datetime | None,
    *,
    resources: Sequence[str] = (),
) -> Grant:
    """Add a grant to the session (the caller commits).

    ``resources``: the RFC 8707 resource indicators granted; none means the default resource.
    """
    now = utcnow()
    lifetime = timedelta(seconds=settings().oauth_refresh_token_max_age)
    grant = Grant(
        id=new_token(16),
        kind=kind,
        client_id=client.client_id,
        user_id=user.id if user else None,
        scope=scope,
        resource=" ".join(resources) or None,
        auth_time=auth_time,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(grant)
    return grant


_GRANTS = Grant.__table__.c


def own_grant_condition(client_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A client's own live client_credentials grant (the statement binds ``now``): the one
    definition, used here and by client authentication's joined read (services/clients.py)."""
    return and_(
        _GRANTS.client_id == client_id,
        _GRANTS.kind == KIND_CLIENT_CREDENTIALS,
        _GRANTS.revoked_at.is_(None),
        _GRANTS.expires_at > bindparam("now"),
    )


# Built once with bind parameters (building this select per call cost as much as running it);
# a sql.Statement on the grants table, so the read needs no ORM session.
_CLIENT_OWN_GRANT = sql.Statement(
    select(*_GRANTS)
    .where(own_grant_condition(bindparam("client_id")))
    .order_by(_GRANTS.created_at.desc())
    .limit(1)
)


def client_credentials_grant(client: Client) -> Grant:
    """The client's own grant for client_credentials tokens, created on first use.

    An existing grant comes back as a copy outside the session (read it, never change it:
    tokens only need its id); a new one is added to the session for the caller to commit.
    """
    known: Grant | None = getattr(client, "own_grant", None)  # read with the client
    if known is not None:
        return known
    row = sql.fetch_one(_CLIENT_OWN_GRANT, {"client_id": client.client_id, "now": utcnow()})
    if row is not None:
        return Grant(**dict(zip(_CLIENT_OWN_GRANT.keys, row, strict=True)))
    grant = create_grant(KIND_CLIENT_CREDENTIALS, client, None, client.scope, None)
    db.session.flush()
    return grant


# Built once, run on the session's connection: no ORM bulk-update bookkeeping (nothing
# loaded needs synchronising; every caller commits right after, which expires the session).
_REVOKE_GRANT = (
    update(Grant)
    .where(Grant.id == bindparam("grant_id"), Grant.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"), revoked_reason=bindparam("reason"))
)


def revoke_grant(grant_id: str, reason: str) -> None:
    """Revoke one grant: its refresh tokens and access tokens stop working (caller commits)."""
    db.session.connection().execute(
        _REVOKE_GRANT, {"grant_id": grant_id, "now": utcnow(), "reason": reason}
    )


def revoke_user_client_grants(user_id: int, client_id: str, reason: str) -> int:
    """Revoke every grant a user gave a client; returns how many were active."""
    result = db.session.execute(
        update(Grant)
        .where(Grant.user_id == user_id, Grant.client_id == client_id, Grant.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_user_grants(user_id: int, reason: str) -> None:
    db.session.execute(
        update(Grant)
        .where(Grant.user_id == user_id, Grant.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )

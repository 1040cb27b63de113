"""Authorizations: the record every token points at; the one place tokens are revoked in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, select, update

from app.extensions import db
from app.models import Authorization, Client, User
from app.models.authorization import KIND_CLIENT_CREDENTIALS
from app.models.types import utcnow
from app.security import new_token
from app.services import sql
from app.settings import settings


def create_authorization(
    kind: str,
    client: Client,
    user: User | None,
    scope: str,
    auth_time: datetime | None,
    *,
    resources: Sequence[str] = (),
) -> Authorization:
    """Add an authorization to the session (the caller commits).

    ``resources``: the RFC 8707 resource indicators granted; none means the default resource.
    """
    now = utcnow()
    lifetime = timedelta(seconds=settings().oauth_refresh_token_max_age)
    authorization = Authorization(
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
    db.session.add(authorization)
    return authorization


_AUTHORIZATIONS = Authorization.__table__.c


def own_authorization_condition(client_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A client's own live client_credentials authorization (the statement binds ``now``): the one
    definition, used here and by client authentication's joined read (services/clients.py)."""
    return and_(
        _AUTHORIZATIONS.client_id == client_id,
        _AUTHORIZATIONS.kind == KIND_CLIENT_CREDENTIALS,
        _AUTHORIZATIONS.revoked_at.is_(None),
        _AUTHORIZATIONS.expires_at > bindparam("now"),
    )


# Built once with bind parameters (building this select per call cost as much as running it);
# a sql.Statement on the authorizations table, so the read needs no ORM session.
_CLIENT_OWN_AUTHORIZATION = sql.Statement(
    select(*_AUTHORIZATIONS)
    .where(own_authorization_condition(bindparam("client_id")))
    .order_by(_AUTHORIZATIONS.created_at.desc())
    .limit(1)
)


def client_credentials_authorization(client: Client) -> Authorization:
    """The client's own authorization for client_credentials tokens, created on first use.

    An existing authorization comes back as a copy outside the session (read it, never change it:
    tokens only need its id); a new one is added to the session for the caller to commit.
    """
    known: Authorization | None = getattr(client, "own_authorization", None)  # read with the client
    if known is not None:
        return known
    row = sql.fetch_one(_CLIENT_OWN_AUTHORIZATION, {"client_id": client.client_id, "now": utcnow()})
    if row is not None:
        return Authorization(**dict(zip(_CLIENT_OWN_AUTHORIZATION.keys, row, strict=True)))
    authorization = create_authorization(KIND_CLIENT_CREDENTIALS, client, None, client.scope, None)
    db.session.flush()
    return authorization


# Built once, run on the session's connection: no ORM bulk-update bookkeeping (nothing
# loaded needs synchronising; every caller commits right after, which expires the session).
_REVOKE_AUTHORIZATION = (
    update(Authorization)
    .where(Authorization.id == bindparam("authorization_id"), Authorization.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"), revoked_reason=bindparam("reason"))
)


def revoke_authorization(authorization_id: str, reason: str) -> None:
    """Revoke one authorization: its refresh and access tokens stop working (caller commits)."""
    db.session.connection().execute(
        _REVOKE_AUTHORIZATION,
        {"authorization_id": authorization_id, "now": utcnow(), "reason": reason},
    )


def revoke_user_client_authorizations(user_id: int, client_id: str, reason: str) -> int:
    """Revoke every authorization a user gave a client; returns how many were active."""
    result = db.session.execute(
        update(Authorization)
        .where(
            Authorization.user_id == user_id,
            Authorization.client_id == client_id,
            Authorization.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_user_authorizations(user_id: int, reason: str) -> None:
    db.session.execute(
        update(Authorization)
        .where(Authorization.user_id == user_id, Authorization.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )

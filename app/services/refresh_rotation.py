"""Refresh-token rotation (RFC 6749 §6, RFC 9700 §4.14.2): read, spend once, store the successor.

``read`` fetches the token, its authorization and whether the authorization's user is active in one
statement (primary-key joins). ``consume`` spends the token and stores its successor in one
transaction and commits it; the caller signs the access token before, so SQLite's write lock
is held from the UPDATE to the commit only. The race guard is ``use_once``'s conditional UPDATE
(``... WHERE used_at IS NULL``): of two uses of one token only one finds it unspent. On
PostgreSQL that UPDATE takes the row lock, so a concurrent second use waits for the first to
commit and then re-checks ``used_at`` (READ COMMITTED); a ``SELECT ... FOR UPDATE`` at the
read would hold that lock across the signing, for no extra safety. On PostgreSQL the UPDATE
and the successor's INSERT are one statement. A token that comes back spent is reuse: the
authorization is revoked, audited and committed.

The statements are ``sql.Statement``s run with ``sql.run_in_session``: on the DBAPI cursor of
the session's connection, in the same transaction as anything else the request wrote, which
this service commits. Per statement that skips SQLAlchemy's execution context and result
(measured: a primary-key read 31 -> 7 µs on SQLite, 103 -> 32 µs on PostgreSQL); values go
through the columns' own type conversions, and driver errors still come out as SQLAlchemy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from flask import current_app
from sqlalchemy import bindparam, insert, select

from app import metrics
from app.extensions import db
from app.models import Authorization, RefreshToken, User
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.services import audit, authorizations, sql, use_once
from app.settings import settings

MAX_TOKEN_LENGTH = 4096


class RefreshTokenReused(Exception):
    """The refresh token was spent already: its authorization has been revoked (and committed)."""


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    """A refresh token as rotation reads it: its row, its authorization and its user, in one query.

    ``authorization`` is a transient Authorization (never added to the session).
    ``check_client`` and ``get_scope`` are the authlib TokenMixin hooks of the refresh_token
    grant; ``dpop_jkt`` is what ``DPoPBinding`` checks.
    """

    token_hash: str
    client_id: str
    scope: str
    expires_at: datetime
    used_at: datetime | None
    dpop_jkt: str | None
    authorization: Authorization
    user_is_active: bool

    def check_client(self, client: object) -> bool:
        return self.client_id == getattr(client, "client_id", None)

    def get_scope(self) -> str:
        return self.scope

    def usable(self, now: datetime) -> bool:
        """Unexpired and of an active authorization (a spent one is still "usable": it is reuse)."""
        return self.expires_at > now and self.authorization.is_active(now)

    def user(self) -> User | None:
        """The authorization's user as a transient User (its id), if any and if it is active."""
        user_id = self.authorization.user_id
        if user_id is None or not self.user_is_active:
            return None
        return User(id=user_id, is_active=True)


_READ = sql.Statement(
    select(
        RefreshToken.token_hash,
        RefreshToken.client_id,
        RefreshToken.scope,
        RefreshToken.expires_at,
        RefreshToken.used_at,
        RefreshToken.dpop_jkt,
        Authorization.id,
        Authorization.kind,
        Authorization.client_id,
        Authorization.user_id,
        Authorization.scope,
        Authorization.resource,
        Authorization.auth_time,
        Authorization.expires_at,
        Authorization.revoked_at,
        User.is_active,
    )
    .join_from(RefreshToken, Authorization, Authorization.id == RefreshToken.authorization_id)
    .outerjoin(User, User.id == Authorization.user_id)
    .where(RefreshToken.token_hash == bindparam("token_hash"))
)

# Bind names differ from column names: SQLAlchemy reserves those in INSERT and UPDATE.
_SPEND = use_once.Spend(
    RefreshToken.token_hash, RefreshToken.used_at.is_(None), used_at=bindparam("now")
)
_STORE = sql.Statement(
    insert(RefreshToken).values(
        token_hash=bindparam("new_hash"),
        authorization_id=bindparam("new_authorization_id"),
        client_id=bindparam("new_client_id"),
        scope=bindparam("new_scope"),
        created_at=bindparam("now"),
        expires_at=bindparam("new_expires_at"),
        dpop_jkt=bindparam("new_dpop_jkt"),
    )
)
# PostgreSQL does both in one statement (a data-modifying CTE): the successor is inserted
# only if the UPDATE spent the token; one round trip instead of two.
_SPENT = _SPEND.update.returning(RefreshToken.authorization_id, RefreshToken.client_id).cte("spent")
_SPEND_AND_STORE = sql.Statement(
    insert(RefreshToken)
    .from_select(
        [
            "token_hash",
            "authorization_id",
            "client_id",
            "scope",
            "created_at",
            "expires_at",
            "dpop_jkt",
        ],
        select(
            bindparam("new_hash", type_=RefreshToken.token_hash.type),
            _SPENT.c.authorization_id,
            _SPENT.c.client_id,
            bindparam("new_scope", type_=RefreshToken.scope.type),
            bindparam("now", type_=RefreshToken.created_at.type),
            bindparam("new_expires_at", type_=RefreshToken.expires_at.type),
            bindparam("new_dpop_jkt", type_=RefreshToken.dpop_jkt.type),
        ),
    )
    .add_cte(_SPENT)
)


def read(token: str) -> RefreshTokenRecord | None:
    """The refresh token ``token`` with its authorization; None if unknown (spent ones included)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    rows = sql.run_in_session(_READ, {"token_hash": hash_token(token)}).rows
    if not rows:
        return None
    (token_hash, client_id, scope, expires_at, used_at, dpop_jkt, authorization_id, kind,
     authorization_client_id, user_id, authorization_scope, resource, auth_time,
     authorization_expires_at, revoked_at, user_is_active) = rows[0]  # fmt: skip
    authorization = Authorization(
        id=authorization_id, kind=kind, client_id=authorization_client_id, user_id=user_id,
        scope=authorization_scope,
        resource=resource, auth_time=auth_time, expires_at=authorization_expires_at,
        revoked_at=revoked_at,
    )  # fmt: skip
    return RefreshTokenRecord(
        token_hash,
        client_id,
        scope,
        expires_at,
        used_at,
        dpop_jkt,
        authorization,
        bool(user_is_active),
    )


def consume(
    record: RefreshTokenRecord, successor_scope: str | None, *, dpop_jkt: str | None = None
) -> str | None:
    """Spend ``record`` once and store its successor, in one transaction committed here.

    Returns the successor (None when ``successor_scope`` is None: spend only); ``dpop_jkt``
    binds it to a DPoP key (RFC 9449 §5). A token spent already, even by a concurrent
    request, is reuse: ``refuse_reuse`` revokes the authorization and raises RefreshTokenReused.
    """
    if record.used_at is not None:
        refuse_reuse(record)
    now = utcnow()
    params: dict[str, Any] = {"now": now}
    successor = None if successor_scope is None else new_token()
    if successor is not None:
        lifetime = timedelta(seconds=settings().oauth_refresh_token_ttl)
        params |= {
            "new_hash": hash_token(successor),
            "new_authorization_id": record.authorization.id,
            "new_client_id": record.client_id,
            "new_scope": successor_scope,
            "new_expires_at": min(now + lifetime, record.authorization.expires_at),
            "new_dpop_jkt": dpop_jkt,
        }
    # On PostgreSQL the UPDATE and the INSERT are one statement; elsewhere, two.
    if successor is not None and db.session.get_bind().dialect.name == "postgresql":
        spent = _SPEND(record.token_hash, via=_SPEND_AND_STORE, **params)
    else:
        spent = _SPEND(record.token_hash, **params)
        if spent and successor is not None:
            sql.run_in_session(_STORE, params)
    if not spent:
        refuse_reuse(record)
    db.session.commit()
    return successor


def refuse_reuse(record: RefreshTokenRecord) -> NoReturn:
    """A spent refresh token came back: revoke its whole family, audited, and raise."""
    authorizations.revoke_authorization(record.authorization.id, "refresh_token_reuse")
    audit.record(
        "refresh_token.reused", user_id=record.authorization.user_id, client_id=record.client_id,
        detail="a used refresh token came back; its authorization was revoked",
    )  # fmt: skip
    db.session.commit()
    metrics.refresh_token_reused()
    current_app.logger.warning(
        "refresh token reuse: authorization %s revoked", record.authorization.id
    )
    raise RefreshTokenReused(record.authorization.id)

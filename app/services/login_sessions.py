"""Browser sign-ins kept server-side (see ``models.login_session``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app.extensions import db
from app.models import LoginSession, User
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.settings import settings


def start(user: User) -> tuple[str, LoginSession]:
    """Record a new sign-in for ``user``; returns the token for the browser's session."""
    token = new_token()
    now = utcnow()
    lifetime = timedelta(seconds=settings().login_session_lifetime)
    login = LoginSession(
        token_hash=hash_token(token), user=user, authenticated_at=now, expires_at=now + lifetime
    )
    db.session.add(login)
    db.session.commit()
    return token, login


def resolve(token: str) -> LoginSession | None:
    """The live sign-in behind a browser token: not ended, not expired, user still active."""
    login = db.session.get(LoginSession, hash_token(token))
    if login is None or login.is_expired(utcnow()) or not login.user.is_active:
        return None
    return login


def end(token: str) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(token)))
    db.session.commit()

"""The signed-in user as Flask-Login sees it.

Flask-Login stores ``get_id()`` in the session cookie. We give it the sign-in token rather than
the user id (Flask-Login's "alternative tokens"), so every request is checked against the
server-side ``LoginSession`` row and ending that row ends the sign-in.
"""

from __future__ import annotations

from datetime import datetime

from flask import session
from flask_login import LoginManager, UserMixin, current_user, logout_user

from app.models import LoginSession, User
from app.request_log import note_subject
from app.services import login_sessions


class SignedInUser(UserMixin):  # type: ignore[misc]
    def __init__(self, token: str, login: LoginSession) -> None:
        self.token = token
        self.user: User = login.user
        self.authenticated_at: datetime = login.authenticated_at

    def get_id(self) -> str:
        return self.token

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def load_signed_in_user(token: str) -> SignedInUser | None:
    login = login_sessions.resolve(token)
    if login is None:
        return None
    note_subject(str(login.user.id))  # the request's user, for its log line
    return SignedInUser(token, login)


def configure_login_manager(manager: LoginManager) -> None:
    manager.user_loader(load_signed_in_user)
    manager.login_view = "account.login"
    manager.login_message = None
    manager.session_protection = "basic"


def sign_out() -> None:
    """End the browser's sign-in on the server and clear its session."""
    if current_user.is_authenticated:
        login_sessions.end(current_user.get_id())
    logout_user()
    session.clear()

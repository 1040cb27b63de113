"""Small factories that make rows through the real services."""

from __future__ import annotations

from flask import Flask

from app.models import User
from app.services import users

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory:
    """Creates users through ``services.users`` inside an app context of ``app``."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def create(
        self,
        username: str,
        *,
        password: str = DEFAULT_PASSWORD,
        email: str | None = None,
        admin: bool = False,
    ) -> User:
        new = users.NewUser(username, email or f"{username}@example.com", password, is_admin=admin)
        with self.app.app_context():
            user = users.create_user(new)
            users.db.session.refresh(user)
            users.db.session.expunge(user)
            return user

    def disable(self, username: str) -> None:
        with self.app.app_context():
            users.disable_user(username)

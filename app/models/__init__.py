"""Storage: typed SQLAlchemy models. Models keep small invariants and never commit."""

from app.models.login_session import LoginSession
from app.models.user import User

__all__ = ["LoginSession", "User"]

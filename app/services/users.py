"""Creating, finding and authenticating users."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select

from app import metrics
from app.errors import ValidationError
from app.extensions import db
from app.models import LoginSession, User
from app.security import (
    burn_password_check,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from app.services import audit, authorizations
from app.settings import settings

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str
    password: str
    is_admin: bool = False


def normalize_username(username: str) -> str:
    return username.strip().lower()


def validate_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValidationError(
            "username must be 2-64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_email_address(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"invalid email: {exc}") from exc


def validate_password(password: str) -> str:
    low = settings().password_min_length
    high = settings().password_max_length
    if not password:
        raise ValidationError("password must not be empty")
    if len(password) < low:
        raise ValidationError(f"password must be at least {low} characters")
    if len(password) > high:
        raise ValidationError(f"password must be at most {high} characters")
    return password


def create_user(new: NewUser, *, actor_id: int | None = None) -> User:
    """Validate and store a user; raises ValidationError and stores nothing on bad input.

    ``actor_id`` is the admin who created the account (None from the command line).
    """
    username = validate_username(new.username)
    email = validate_email_address(new.email)
    password = validate_password(new.password)
    if find_by_username(username) is not None:
        raise ValidationError(f"username {username!r} is already taken")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError(f"email {email!r} is already registered")
    user = User(
        username=username, email=email, password_hash=hash_password(password), is_admin=new.is_admin
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", user_id=user.id, actor_id=actor_id,
                 detail="admin" if new.is_admin else "")  # fmt: skip
    db.session.commit()
    return user


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def get_user(username: str) -> User:
    user = find_by_username(username)
    if user is None:
        raise ValidationError(f"no user named {normalize_username(username)!r}")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def authenticate(username: str, password: str) -> User | None:
    """Return the active user whose password matches, else None.

    Unknown users, wrong passwords and disabled accounts cost the same argon2 time and give
    the same answer. Hashes made with weaker parameters are upgraded on success.
    """
    if len(password) > settings().password_max_length:
        return None
    user = find_by_username(username)
    if user is None:
        burn_password_check(password)
        _sign_in_failed(None, "unknown username")
        return None
    if not verify_password(user.password_hash, password):
        _sign_in_failed(user.id, "wrong password")
        return None
    if not user.is_active:
        _sign_in_failed(user.id, "account disabled")
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("sign_in.ok", user_id=user.id)
    db.session.commit()
    metrics.sign_in(ok=True)
    return user


def _sign_in_failed(user_id: int | None, reason: str) -> None:
    audit.record("sign_in.failed", user_id=user_id, detail=reason)
    db.session.commit()
    metrics.sign_in(ok=False)


def set_password(username: str, password: str) -> User:
    """Replace a password, end every sign-in of that user and revoke every authorization they gave.

    A new password usually means the old one leaked: whoever had it may have approved a
    client of their own, so its refresh and access tokens (checked against the authorization on
    every call) stop working too. The user's own apps ask for consent again.
    """
    user = get_user(username)
    user.password_hash = hash_password(validate_password(password))
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    authorizations.revoke_user_authorizations(user.id, "password_changed")
    audit.record("user.password_changed", user_id=user.id)
    db.session.commit()
    return user


def set_admin(username: str, is_admin: bool, *, actor_id: int | None = None) -> User:
    """Grant or withdraw admin rights; takes effect on the user's next request.

    ``actor_id`` is the admin making the change: nobody may withdraw their own rights, so
    the console is never left without the admin who is using it.
    """
    user = get_user(username)
    if not is_admin:
        _refuse_self(user, actor_id, "remove your own admin rights")
    user.is_admin = is_admin
    audit.record("user.admin_changed", user_id=user.id, actor_id=actor_id,
                 detail="made admin" if is_admin else "admin rights removed")  # fmt: skip
    db.session.commit()
    return user


def disable_user(username: str, *, actor_id: int | None = None) -> User:
    """Disable an account: its sign-ins end and every token it granted stops working.

    ``actor_id`` is the admin doing it, who may not disable their own account.
    """
    user = get_user(username)
    _refuse_self(user, actor_id, "disable your own account")
    user.is_active = False
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    authorizations.revoke_user_authorizations(user.id, "user_disabled")
    audit.record("user.disabled", user_id=user.id, actor_id=actor_id)
    db.session.commit()
    metrics.revocation(metrics.ADMIN)
    return user


def _refuse_self(user: User, actor_id: int | None, action: str) -> None:
    if actor_id == user.id:
        raise ValidationError(f"You cannot {action}; ask another admin.")

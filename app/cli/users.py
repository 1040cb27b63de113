"""``flask --app wsgi users ...``: the people who sign in."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from app.errors import ValidationError
from app.models import User
from app.services import quotas, users

users_cli = AppGroup("users", help="Manage the people who sign in.")


def _read_password() -> str:
    """One line from stdin, without its line ending."""
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _user_json(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "email": user.email,
        "is_admin": user.is_admin,
        "is_active": user.is_active,
        "created_at": user.created_at.isoformat(),
    }


def _fail(exc: ValidationError) -> click.ClickException:
    return click.ClickException(exc.description)


@users_cli.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The user's email address.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@click.option("--admin", is_flag=True, help="Let this user manage clients and users.")
def create_command(username: str, email: str, password_stdin: bool, admin: bool) -> None:
    """Create a user; the password is read from the first line of stdin."""
    new = users.NewUser(username, email, _read_password(), is_admin=admin)
    try:
        user = users.create_user(new)
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(f"created user {user.username}" + (" (admin)" if user.is_admin else ""))


@users_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(as_json: bool) -> None:
    """List users."""
    everyone = users.list_users()
    if as_json:
        click.echo(json.dumps([_user_json(u) for u in everyone], indent=2))
        return
    for user in everyone:
        flags = [
            name for name, on in (("admin", user.is_admin), ("disabled", not user.is_active)) if on
        ]
        click.echo(f"{user.username}\t{user.email}\t{','.join(flags) or '-'}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def set_password_command(username: str, password_stdin: bool) -> None:
    """Replace a user's password (ends their sign-ins)."""
    try:
        user = users.set_password(username, _read_password())
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(f"password changed for {user.username}")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable a user and end their sign-ins."""
    try:
        user = users.disable_user(username)
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(f"disabled {user.username}")


@users_cli.command("set-quota")
@click.argument("username")
@click.argument("quota")
def set_quota_command(username: str, quota: str) -> None:
    """Set how many bytes of photos a user may store ("default": PHOTO_STORAGE_QUOTA)."""
    try:
        user = users.get_user(username)
        quotas.set_quota(user, quotas.parse_quota(quota))
    except ValidationError as exc:
        raise _fail(exc) from exc
    shown = quotas.format_bytes(quotas.quota_of(user))
    click.echo(f"storage quota of {user.username}: {shown} ({quotas.quota_of(user)} bytes)")

"""``flask --app wsgi demo`` and ``flask --app wsgi photos clean``."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup, with_appcontext

from app.models.client import AUTH_METHOD_HINTS
from app.services import demo, photos

photos_cli = AppGroup("photos", help="Maintain the photo store.")


@click.command("demo")
@with_appcontext
@click.option("--password-stdin", is_flag=True, help="Read bob's password from stdin.")
def demo_command(password_stdin: bool) -> None:
    """Create the demo story (bob, alice, photos, PhotoPrint, an uploader). Safe to run twice."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    result = demo.seed(password or None)
    for username, secret in result.passwords.items():
        shown = "(from stdin)" if username == "bob" and password else secret
        click.echo(f"created user {username}, password: {shown}")
    for username, count in result.photos.items():
        if count:
            click.echo(f"added {count} photos for {username}")
    for name, client in result.clients.items():
        method = client["token_endpoint_auth_method"]
        where = f"redirect {client['redirect_uri']}, scope {client['scope']}"
        click.echo(f"registered {name} ({where}):")
        click.echo(json.dumps({k: client[k] for k in ("client_id", "client_secret")}, indent=2))
        click.echo(f"token_endpoint_auth_method: {method} ({AUTH_METHOD_HINTS.get(method, '')})")
    if not (result.passwords or result.clients or any(result.photos.values())):
        click.echo("demo data already present; nothing changed")


@photos_cli.command("clean")
@click.option("--grace", default=photos.ORPHAN_GRACE_SECONDS, show_default=True,
              help="Only files older than this many seconds.")  # fmt: skip
def clean_command(grace: int) -> None:
    """Delete stored files that have no photo row (left by a crash mid-upload)."""
    click.echo(f"removed {photos.remove_orphan_files(grace)} orphan files")

"""``flask --app wsgi keys ...``: the signing keys behind access and ID tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ValidationError
from app.services import keys

keys_cli = AppGroup("keys", help="List, rotate and retire signing keys.")


@keys_cli.command("list")
def list_command() -> None:
    """List keys: kid, algorithm, status (active / previous / retired), created."""
    for row in keys.list_keys():
        click.echo(f"{row.kid}\t{row.alg}\t{row.status}\t{row.created_at.isoformat()}")


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(keys.SUPPORTED_ALGS), help="Only this algorithm.")
def rotate_command(alg: str | None) -> None:
    """New keys sign from now on; tokens signed by the old ones stay valid until retired."""
    created = keys.rotate((alg,) if alg else keys.SUPPORTED_ALGS)
    for row in created:
        click.echo(f"{row.kid}\t{row.alg}\tactive")


@keys_cli.command("retire")
@click.argument("kid")
def retire_command(kid: str) -> None:
    """Stop trusting a previous key: tokens it signed fail at once."""
    try:
        keys.retire(kid)
    except ValidationError as exc:
        raise click.ClickException(exc.description) from exc
    click.echo(f"retired {kid}")

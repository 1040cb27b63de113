"""``flask --app wsgi keys ...``: the signing keys behind access and ID tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ValidationError
from app.services import keys
from app.services.key_encryption import KeySealError

keys_cli = AppGroup("keys", help="List, rotate, retire and re-seal signing keys.")


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
@click.option(
    "--force",
    is_flag=True,
    help=f"Retire even within {keys.ACTIVE_KEY_CACHE_SECONDS} s of the rotation that replaced "
    "the key (workers may still sign with it; those tokens fail at once).",
)
def retire_command(kid: str, force: bool) -> None:
    """Stop trusting a previous key: tokens it signed fail at once.

    Refused for 30 s after the rotation that replaced the key (each worker remembers the
    active key that long) unless --force.
    """
    try:
        keys.retire(kid, force=force)
    except ValidationError as exc:
        raise click.ClickException(exc.description) from exc
    click.echo(f"retired {kid}")


@keys_cli.command("rewrap")
def rewrap_command() -> None:
    """Seal every private key with KEY_ENCRYPTION_KEY (after a KEK change, or plaintext rows).

    Keys sealed with an old KEK open with KEY_ENCRYPTION_KEYS_OLD; once this has run, that
    setting can be removed.
    """
    try:
        result = keys.rewrap()
    except KeySealError as exc:
        raise click.ClickException(str(exc)) from exc
    plaintext = "1 was plaintext" if result.were_plaintext == 1 else (
        f"{result.were_plaintext} were plaintext")  # fmt: skip
    click.echo(
        f"sealed {result.sealed} keys with key-encryption key {result.kek_id} "
        f"({plaintext}, {result.already_current} already sealed with it)"
    )
    for kid in result.skipped:
        click.echo(f"skipped retired key {kid}: no configured KEK opens it", err=True)

"""``flask --app wsgi tokens purge``: delete expired codes, tokens, authorizations and sign-ins."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.services import housekeeping

tokens_cli = AppGroup("tokens", help="Token housekeeping.")


@tokens_cli.command("purge")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")  # fmt: skip
def purge_command(batch_size: int) -> None:
    """Delete what can no longer be used, in short transactions; safe to run any time."""
    for table, count in housekeeping.purge(batch_size).items():
        click.echo(f"{table}\t{count}")

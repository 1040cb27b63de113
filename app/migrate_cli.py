"""``flask db`` for an app built without Flask-Migrate (the WSGI entry point, wsgi.py).

Flask-Migrate imports alembic, mako and pygments (11 MiB) when it is imported; a server never
migrates, yet ``flask --app wsgi db upgrade`` must work. This command binds Flask-Migrate to
the app and hands its arguments, untouched, to Flask-Migrate's own ``db`` group.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.extensions import init_migrate

FORWARD_EVERYTHING = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": [],  # --help is the group's
}


def register_lazy_migrate(app: Flask, directory: Path) -> None:
    @app.cli.command("db", context_settings=FORWARD_EVERYTHING)
    @click.pass_context
    @with_appcontext
    def db_command(ctx: click.Context) -> None:
        """Perform database migrations (Flask-Migrate)."""
        from flask_migrate.cli import db

        init_migrate(current_app, directory)
        db.main(ctx.args, prog_name=ctx.command_path, obj=ctx.obj, standalone_mode=False)

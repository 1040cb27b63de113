"""Command line: ``flask --app wsgi users|clients|keys|tokens|photos|demo|doctor``. Parse,
call a service, print."""

from __future__ import annotations

from flask import Flask

from app.cli.clients import clients_cli
from app.cli.demo import demo_command, photos_cli
from app.cli.doctor import doctor_command
from app.cli.keys import keys_cli
from app.cli.tokens import tokens_cli
from app.cli.users import users_cli


def register_commands(app: Flask) -> None:
    for command in (users_cli, clients_cli, keys_cli, tokens_cli, photos_cli, demo_command,
                    doctor_command):  # fmt: skip
        app.cli.add_command(command)

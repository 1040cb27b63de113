"""``flask --app wsgi users ...``: what an operator types and sees."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from tests.helpers import AuthActions
from tests.live import flask_cli


def user_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User)) or 0


def invoke(app: Flask, *args: str, stdin: str = "") -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    return result.exit_code, result.output


def test_create_then_sign_in(app: Flask, auth: AuthActions) -> None:
    code, out = invoke(
        app, "users", "create", "alice", "--email", "alice@example.com", "--password-stdin",
        stdin="a long passphrase\n",
    )  # fmt: skip
    assert code == 0, out
    assert out.strip() == "created user alice"
    assert auth.login("alice", "a long passphrase").status_code == 303


def test_create_admin_and_list_as_json(app: Flask) -> None:
    invoke(app, "users", "create", "root1", "--email", "r@example.com", "--password-stdin",
           "--admin", stdin="a long passphrase\n")  # fmt: skip
    code, out = invoke(app, "users", "list", "--json")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["username"] == "root1" and entry["is_admin"] is True and entry["is_active"]
    assert "password" not in json.dumps(entry)


def test_bad_input_exits_non_zero_with_one_line_and_writes_nothing(app: Flask) -> None:
    invoke(app, "users", "create", "alice", "--email", "alice@example.com", "--password-stdin",
           stdin="a long passphrase\n")  # fmt: skip
    cases = [
        (["alice", "--email", "other@example.com"], "a long passphrase\n", "already taken"),
        (["ALICE", "--email", "other@example.com"], "a long passphrase\n", "already taken"),
        (["bob", "--email", "not-an-email"], "a long passphrase\n", "invalid email"),
        (["bob", "--email", "alice@example.com"], "a long passphrase\n", "already registered"),
        (["bob", "--email", "bob@example.com"], "\n", "password must not be empty"),
        (["bob", "--email", "bob@example.com"], "", "password must not be empty"),
        (["b/o b", "--email", "bob@example.com"], "a long passphrase\n", "username must be"),
    ]
    for args, stdin, reason in cases:
        code, out = invoke(app, "users", "create", *args, "--password-stdin", stdin=stdin)
        assert code != 0, args
        assert out.startswith("Error: ") and reason in out, out
        assert out.strip().count("\n") == 0
    assert user_count(app) == 1


def test_set_password_replaces_the_old_one(app: Flask, auth: AuthActions, bob: object) -> None:
    code, _ = invoke(
        app, "users", "set-password", "bob", "--password-stdin", stdin="new secret pw\n"
    )
    assert code == 0
    assert auth.login("bob").status_code == 200  # old password refused
    assert auth.login("bob", "new secret pw").status_code == 303


def test_set_password_ends_existing_sign_ins(app: Flask, auth: AuthActions, bob: object) -> None:
    auth.login("bob")
    invoke(app, "users", "set-password", "bob", "--password-stdin", stdin="new secret pw\n")
    assert "Signed in as" not in auth.client.get("/").get_data(as_text=True)


def test_disable_and_unknown_user(app: Flask, auth: AuthActions, bob: object) -> None:
    assert invoke(app, "users", "disable", "bob") == (0, "disabled bob\n")
    assert auth.login("bob").status_code == 200
    code, out = invoke(app, "users", "disable", "nobody")
    assert code != 0 and "no user named 'nobody'" in out
    code, out = invoke(app, "users", "list")
    assert out.split("\t")[2].strip() == "disabled"


def test_the_real_command_line(cli_env: dict[str, str], auth: AuthActions) -> None:
    """The same commands through ``flask --app wsgi`` in a subprocess, as documented."""
    created = flask_cli(
        cli_env, "users", "create", "dora", "--email", "dora@example.com", "--password-stdin",
        stdin="a long passphrase\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    duplicate = flask_cli(
        cli_env, "users", "create", "dora", "--email", "x@example.com", "--password-stdin",
        stdin="a long passphrase\n",
    )  # fmt: skip
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "Error: username 'dora' is already taken"
    listed = flask_cli(cli_env, "users", "list", "--json")
    assert [u["username"] for u in json.loads(listed.stdout)] == ["dora"]
    assert auth.login("dora", "a long passphrase").status_code == 303

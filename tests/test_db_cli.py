"""``flask --app wsgi db``: the server's entry point loads Flask-Migrate only for the command."""

from __future__ import annotations

from pathlib import Path

from tests.live import flask_cli


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/fresh.sqlite",
        "FLASK_SECRET_KEY": "cli-secret-key-" + "x" * 32,
        "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
    }


def test_db_upgrade_builds_a_fresh_database_to_head(tmp_path: Path) -> None:
    env = _env(tmp_path)

    upgraded = flask_cli(env, "db", "upgrade")
    current = flask_cli(env, "db", "current")

    assert upgraded.returncode == 0, upgraded.stderr
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout


def test_db_help_and_errors_are_flask_migrates(tmp_path: Path) -> None:
    env = _env(tmp_path)

    helped = flask_cli(env, "db", "--help")
    unknown = flask_cli(env, "db", "no-such-command")
    bad_revision = flask_cli(env, "db", "upgrade", "no-such-revision")

    assert helped.returncode == 0
    assert "--directory" in helped.stdout and "upgrade" in helped.stdout
    assert unknown.returncode == 2
    assert bad_revision.returncode == 1

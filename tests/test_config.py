"""Configuration: defaults, instance secret, FLASK_* variables, start-up validation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError
from tests.live import flask_cli


def test_secret_key_is_generated_once_into_the_instance_folder(instance_path: Path) -> None:
    first = create_app({"TESTING": True})
    second = create_app({"TESTING": True})
    key_file = instance_path / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert key_file.read_text().strip() == first.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_defaults_use_sqlite_in_the_instance_folder(instance_path: Path) -> None:
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance_path}/tessera.sqlite"
    assert app.config["OAUTH_ISSUER"] == "http://127.0.0.1:5000"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_flask_prefixed_environment_variables_override_defaults(
    instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_OAUTH_ISSUER", "https://id.example.com/")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgres://u@db.internal/tessera")
    monkeypatch.setenv("FLASK_LOGIN_SESSION_LIFETIME", "3600")
    app = create_app()
    assert app.config["OAUTH_ISSUER"] == "https://id.example.com"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/tessera"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert app.config["LOGIN_SESSION_LIFETIME"] == 3600


def test_instance_config_file_is_read(instance_path: Path) -> None:
    instance_path.mkdir(parents=True)
    (instance_path / "config.py").write_text('OAUTH_ISSUER = "http://localhost:8080"\n')
    assert create_app().config["OAUTH_ISSUER"] == "http://localhost:8080"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"OAUTH_ISSUER": "http://id.example.com"}, "OAUTH_ISSUER"),
        ({"OAUTH_ISSUER": "https://id.example.com/?tenant=1"}, "OAUTH_ISSUER"),
        ({"OAUTH_ISSUER": "id.example.com"}, "OAUTH_ISSUER"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SQLALCHEMY_DATABASE_URI": "mysql://root@localhost/x"}, "SQLALCHEMY_DATABASE_URI"),
        ({"RATELIMIT_STORAGE_URI": "memcached://localhost"}, "RATELIMIT_STORAGE_URI"),
        ({"LOGIN_SESSION_LIFETIME": "soon"}, "LOGIN_SESSION_LIFETIME"),
        ({"PASSWORD_MIN_LENGTH": 5000}, "PASSWORD_MIN_LENGTH"),
        ({"OAUTH_LIMIT_PER_CLIENT": "lots"}, "OAUTH_LIMIT_PER_CLIENT"),
        ({"CLIENT_AUTH_FAILURE_LIMIT": "20 per fortnight"}, "CLIENT_AUTH_FAILURE_LIMIT"),
        ({"USAGE_FLUSH_SECONDS": -1}, "USAGE_FLUSH_SECONDS"),
        ({"REGISTRATION_MODE": "closed"}, "REGISTRATION_MODE"),
        ({"REGISTRATION_LIMIT_PER_IP": "many"}, "REGISTRATION_LIMIT_PER_IP"),
        ({"DEVICE_FLOW_ENABLED": "yes"}, "DEVICE_FLOW_ENABLED"),
        ({"DEVICE_CODE_TTL": 0}, "DEVICE_CODE_TTL"),
        ({"DEVICE_CODE_TTL": 3600}, "DEVICE_CODE_TTL"),
        ({"DEVICE_POLL_INTERVAL": "5s"}, "DEVICE_POLL_INTERVAL"),
        ({"DEVICE_POLL_INTERVAL": 600}, "DEVICE_POLL_INTERVAL"),
        ({"DEVICE_CODE_LIMIT_PER_IP": "20 per decade"}, "DEVICE_CODE_LIMIT_PER_IP"),
        ({"OUTBOUND_ALLOW_LOOPBACK": "yes"}, "OUTBOUND_ALLOW_LOOPBACK"),
        ({"KEY_ENCRYPTION_KEY": "short"}, "KEY_ENCRYPTION_KEY"),
        ({"KEY_ENCRYPTION_KEYS_OLD": ["short"]}, "KEY_ENCRYPTION_KEYS_OLD"),
        ({"KEY_ENCRYPTION_KEYS_OLD": {"k": "x" * 40}}, "KEY_ENCRYPTION_KEYS_OLD"),
        # Every value is checked against its declared type (app/settings.py)
        ({"PHOTO_STRIP_GPS": "yes"}, "PHOTO_STRIP_GPS"),
        ({"RATELIMIT_KEY_PREFIX": 7}, "RATELIMIT_KEY_PREFIX"),
        ({"MAX_CONTENT_LENGTH": "64k"}, "MAX_CONTENT_LENGTH"),
        ({"WTF_CSRF_TIME_LIMIT": "forever"}, "WTF_CSRF_TIME_LIMIT"),
        # The default issuer comes from BIND (make run's HOST:PORT)
        ({"BIND": "8000"}, "BIND"),
        ({"BIND": "127.0.0.1:http"}, "BIND"),
        ({"BIND": "127.0.0.1:70000"}, "BIND"),
        ({"BIND": 8000}, "BIND"),
        ({"BIND": "10.0.0.5:8000"}, "OAUTH_ISSUER"),
    ],
)
def test_invalid_settings_are_refused_at_start_naming_the_key(
    instance_path: Path, settings: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        create_app(settings)


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:5000", "http://localhost", "http://[::1]:8000"]
)
def test_plain_http_issuer_is_allowed_on_loopback(instance_path: Path, issuer: str) -> None:
    assert create_app({"OAUTH_ISSUER": issuer}).config["OAUTH_ISSUER"] == issuer


@pytest.mark.parametrize(
    ("settings", "allowed"),
    [
        ({}, True),  # the default issuer, http://127.0.0.1:5000
        ({"OAUTH_ISSUER": "http://localhost:8080"}, True),
        ({"OAUTH_ISSUER": "https://id.example.com"}, False),
        ({"OAUTH_ISSUER": "https://localhost"}, False),
        ({"OAUTH_ISSUER": "http://127.0.0.1:5000", "OUTBOUND_ALLOW_LOOPBACK": False}, False),
        ({"OAUTH_ISSUER": "https://id.example.com", "OUTBOUND_ALLOW_LOOPBACK": True}, True),
    ],
)
def test_outbound_fetches_reach_loopback_by_default_only_for_a_loopback_http_issuer(
    instance_path: Path, settings: dict[str, object], allowed: bool
) -> None:
    """OF-03: a deployed server never fetches its own loopback unless told to."""
    assert create_app(settings).config["OUTBOUND_ALLOW_LOOPBACK"] is allowed


def test_one_old_key_encryption_key_may_be_given_as_a_string(
    instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_KEY_ENCRYPTION_KEYS_OLD", "old-" + "k" * 40)
    assert create_app().config["KEY_ENCRYPTION_KEYS_OLD"] == ["old-" + "k" * 40]


@pytest.mark.parametrize(
    ("bind", "issuer"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("localhost:8080", "http://localhost:8080"),
        ("0.0.0.0:8000", "http://127.0.0.1:8000"),
        ("[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_the_default_issuer_is_the_address_served_on(
    instance_path: Path, bind: str, issuer: str
) -> None:
    config = create_app({"BIND": bind}).config
    assert config["OAUTH_ISSUER"] == issuer
    assert config["OAUTH_RESOURCE_AUDIENCE"] == issuer + "/api/v1"


def test_an_issuer_set_in_the_instance_config_wins_over_the_bind_variable(
    instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_path.mkdir(parents=True)
    (instance_path / "config.py").write_text('OAUTH_ISSUER = "https://id.example.com"\n')
    monkeypatch.setenv("FLASK_BIND", "0.0.0.0:8000")  # what `make run HOST=0.0.0.0 PORT=8000` sets
    assert create_app().config["OAUTH_ISSUER"] == "https://id.example.com"


@pytest.mark.parametrize("command", [("db", "upgrade"), ("users", "list"), ("routes",)])
def test_a_bad_setting_stops_the_cli_with_one_line_naming_the_key(
    instance_path: Path, command: tuple[str, ...]
) -> None:
    env = {"FLASK_INSTANCE_PATH": str(instance_path), "FLASK_OAUTH_CODE_TTL": "9999"}
    result = flask_cli(env, *command)
    assert result.returncode == 1
    assert result.stderr == "Error: OAUTH_CODE_TTL: at most 600 seconds (RFC 6749 §4.1.2)\n"
    assert result.stdout == ""


def test_cli_refuses_to_start_with_a_bad_setting(instance_path: Path) -> None:
    result = flask_cli(
        {"FLASK_INSTANCE_PATH": str(instance_path), "FLASK_OAUTH_ISSUER": "http://id.example.com"},
        "users",
        "list",
    )
    assert result.returncode != 0
    assert "OAUTH_ISSUER: plain http is refused unless the host is loopback" in result.stderr

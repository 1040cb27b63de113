"""Shared fixtures: an app per test on every configured database backend.

Backends: SQLite always; PostgreSQL when TEST_DATABASE_URL is set (a throwaway database is
created for the run and dropped afterwards). The schema comes from the real migrations.
With CI=true a missing backend, Redis or browser is a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import delete, insert, select

from app import create_app
from app.extensions import db
from app.models import SigningKey
from tests.factories import UserFactory
from tests.helpers import AuthActions, skip_or_fail, throwaway_postgres_database
from tests.lanes import (
    BACKEND_VARIABLES,
    FAST_LANE,
    LANE_VARIABLE,
    LIVE_FIXTURES,
    TEMPLATE_BYTECODE,
    Clock,
    cheap_password_hasher,
)
from tests.live import LiveServer, SharedServers, live_settings

pytest_plugins = ["tests.oauth_fixtures"]

SECRET_KEY = "test-secret-key-" + "x" * 32


# -- the two lanes (tests/lanes.py) ---------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help=f"the fast lane (make check): SQLite only, deselects -m '{FAST_LANE}'",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("fast"):
        return
    chosen = config.option.markexpr
    config.option.markexpr = f"({chosen}) and {FAST_LANE}" if chosen else FAST_LANE
    for name in BACKEND_VARIABLES:
        os.environ.pop(name, None)
    os.environ[LANE_VARIABLE] = "fast"


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a live-server fixture is ``live`` even if its module forgot to say so."""
    for item in items:
        if LIVE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LiveServer.starts:
        terminalreporter.write_line(f"gunicorn servers started: {LiveServer.starts}")


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/tessera.sqlite"
        _migrate(url)
        yield url
        return
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        skip_or_fail(
            "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1/test)"
        )
    with throwaway_postgres_database(base_url) as url:
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    """Build the schema with the real migrations (``flask db upgrade``)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture
def instance_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "instance"
    monkeypatch.setenv("FLASK_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def app_config(database_url: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the test app; tests may change them before asking for ``app``.

    The throttles are wide here (one test client is one IP); tests of the throttle narrow them.
    A test's ``@pytest.mark.limits(**settings)`` (any setting) and an indirect parameter of
    ``app_config`` are applied on top.
    """
    marker = request.node.get_closest_marker("limits")
    overrides = (marker.kwargs if marker else {}) | getattr(request, "param", {})
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
        "LOGIN_LIMIT_PER_IP": "1000 per minute",
        "OAUTH_LIMIT_PER_CLIENT": "10000 per minute",
        "OAUTH_LIMIT_PER_IP": "10000 per minute",
        "CLIENT_AUTH_FAILURE_LIMIT": "1000 per minute",
        "CLIENT_AUTH_FAILURE_LIMIT_PER_IP": "1000 per minute",
        "USAGE_FLUSH_SECONDS": 0,  # tests read counts right after the call
    } | overrides


@pytest.fixture
def app(app_config: dict[str, Any], instance_path: Path) -> Iterator[Flask]:
    """A fresh app per test. No app context stays pushed, so requests never share ``g``.

    Its templates are compiled once per run, not once per test (a bytecode cache keyed by
    template name and source checksum; Jinja's documented cache interface).
    """
    app = create_app(app_config)
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    yield app
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def password_hasher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Test users get argon2 at minimal cost (microseconds instead of ~50 ms a hash).

    Tests marked ``real_hasher`` (those about hashing) and ``live`` tests (whose gunicorn
    hashes with the real parameters and would otherwise rehash every test user on sign-in)
    keep the production hasher.
    """
    if request.node.get_closest_marker("real_hasher") or request.node.get_closest_marker("live"):
        return "owasp"
    cheap_password_hasher(monkeypatch)
    return "cheap"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A clock the test moves (``clock.advance(seconds)``) instead of sleeping.

    Wall-clock time (time.time, datetime.now, which authlib and joserfc read) and
    time.monotonic move together; real time keeps ticking underneath.
    """
    with Clock.started(monkeypatch) as clock:
        yield clock


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def users(app: Flask) -> UserFactory:
    return UserFactory(app)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def bob(users: UserFactory) -> Any:
    return users.create("bob")


@pytest.fixture
def cli_env(app: Flask, app_config: dict[str, Any], instance_path: Path) -> dict[str, str]:
    return live_settings(app_config, instance_path)


@pytest.fixture(scope="session")
def shared_servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedServers]:
    """The shared gunicorn servers of one database, stopped before the database goes."""
    servers = SharedServers(tmp_path_factory.mktemp("live"))
    yield servers
    servers.stop_all()


@pytest.fixture
def live_server_factory(
    request: pytest.FixtureRequest,
    app: Flask,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    shared_servers: SharedServers,
) -> Iterator[Callable[[int], LiveServer]]:
    """Tessera under gunicorn on the test's database, shared with the tests of the same
    settings unless the test is marked ``fresh_server`` or ``limits``; rows are cleaned by
    ``app`` and the shared server's signing keys outlive the wipe (``SharedServers``)."""
    settings = live_settings(app_config, instance_path)
    fresh = request.node.get_closest_marker("fresh_server") or request.node.get_closest_marker(
        "limits"
    )
    used: list[LiveServer] = []

    def start(workers: int) -> LiveServer:
        if fresh:
            server = LiveServer(settings, tmp_path / f"gunicorn{len(used)}.log", workers=workers)
            used.append(server.start())
            return server
        server = shared_servers.get(settings, workers)
        restore_signing_keys(app, shared_servers.keys.get(server.port, []))
        used.append(server)
        return server

    yield start
    for server in used:
        if fresh:
            server.stop()
        else:
            shared_servers.keys[server.port] = signing_key_rows(app)


@pytest.fixture
def live_server(live_server_factory: Callable[[int], LiveServer]) -> LiveServer:
    """Tessera under gunicorn (2 workers) on the test's database."""
    return live_server_factory(2)


def signing_key_rows(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(select(SigningKey.__table__)).mappings()
        return [dict(row) for row in rows]


def restore_signing_keys(app: Flask, rows: list[dict[str, Any]]) -> None:
    """Put back the keys a shared server may still sign with (they were wiped with the rest)."""
    with app.app_context():
        present = set(db.session.scalars(select(SigningKey.kid)))
        missing = [row for row in rows if row["kid"] not in present]
        if missing:
            db.session.execute(insert(SigningKey.__table__), missing)
            db.session.commit()

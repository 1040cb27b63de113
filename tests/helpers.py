"""Test helpers: skip-or-fail, throwaway databases, sign-in actions, CSRF scraping."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from app.config import install_settings, validate
from tests.factories import DEFAULT_PASSWORD

CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def reconfigure(app: Flask, **changes: Any) -> None:
    """Change settings of a running test app, as a restart with them would: ``app.config``
    and the typed settings the code reads, validated. (Writing ``app.config`` alone does
    nothing: settings are built once, at start-up.)"""
    app.config.update(changes)
    validate(app.config)
    install_settings(app)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason`` on a developer machine; fail under CI=true, where nothing may skip."""
    if running_in_ci():
        pytest.fail(f"CI=true, so this must run: {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def throwaway_postgres_database(base_url: str) -> Iterator[str]:
    """Create a uniquely named database next to ``base_url``; drop it afterwards."""
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"tessera_test_{secrets.token_hex(4)}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class AuthActions:
    """Sign in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login_form(self, path: str = "/login") -> str:
        return csrf_token_from(self.client.get(path).get_data(as_text=True))

    def login(
        self, username: str = "bob", password: str = DEFAULT_PASSWORD, next_path: str | None = None
    ) -> TestResponse:
        path = "/login" if next_path is None else f"/login?next={next_path}"
        token = self.login_form(path)
        data: dict[str, Any] = {"username": username, "password": password, "csrf_token": token}
        return self.client.post(path, data=data)

    def logout(self) -> TestResponse:
        token = csrf_token_from(self.client.get("/").get_data(as_text=True))
        return self.client.post("/logout", data={"csrf_token": token})

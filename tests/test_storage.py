"""Storage: migrations match the models; SQLite survives concurrent writers (RL-05)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import text

from app.extensions import db
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import csrf_token_from
from tests.live import LiveServer, live_settings


def test_migrations_build_exactly_the_models(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def sign_in_and_out(base_url: str, username: str) -> list[int]:
    """One browser-like session: GET form, POST credentials, POST logout."""
    with requests.Session() as browser:
        token = csrf_token_from(browser.get(f"{base_url}/login", timeout=30).text)
        form = {"username": username, "password": DEFAULT_PASSWORD, "csrf_token": token}
        signed_in = browser.post(f"{base_url}/login", data=form, allow_redirects=False, timeout=30)
        home = browser.get(f"{base_url}/", timeout=30)
        logout_token = csrf_token_from(home.text)
        out = browser.post(
            f"{base_url}/logout",
            data={"csrf_token": logout_token},
            allow_redirects=False,
            timeout=30,
        )
        return [signed_in.status_code, home.status_code, out.status_code]


class TestConcurrentWriters:
    """Several gunicorn workers writing sign-in rows at once never answer 500."""

    def test_parallel_sign_ins_across_four_workers(
        self, app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path,
        users: UserFactory,
    ) -> None:  # fmt: skip
        names = [f"user{i}" for i in range(8)]
        for name in names:
            users.create(name)
        server = LiveServer(live_settings(app_config, instance_path), tmp_path / "g.log", workers=4)
        server.start()
        try:
            with ThreadPoolExecutor(max_workers=24) as pool:
                runs = pool.map(lambda i: sign_in_and_out(server.url, names[i % 8]), range(64))
                results = list(runs)
        finally:
            server.stop()
        assert all(r == [303, 200, 303] for r in results), results
        assert "database is locked" not in server.log()

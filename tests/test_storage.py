"""Storage: migrations match the models; SQLite survives concurrent writers (RL-05)."""

from __future__ import annotations

import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import text

from app import create_app
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


@pytest.mark.live
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


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_instance_keeps_its_database_and_photos_from_other_users(
    instance_path: Path,
) -> None:
    """KS-01: SQLite file and WAL 0600, instance folder and photo store 0700, under umask 022."""
    previous = os.umask(0o022)
    try:
        app = create_app({"TESTING": True})
        with app.app_context():
            db.session.execute(text("CREATE TABLE probe (x INTEGER)"))
            db.session.commit()
            database = Path(db.engine.url.database or "")
            assert database.parent == instance_path
            assert mode_of(database) == 0o600
            assert mode_of(Path(f"{database}-wal")) == 0o600
            db.session.remove()
            db.engine.dispose()
    finally:
        os.umask(previous)
    assert mode_of(instance_path) == 0o700
    assert mode_of(instance_path / "photos") == 0o700


def test_a_database_readable_by_others_is_logged_at_start(
    instance_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_app({"TESTING": True})
    database = instance_path / "tessera.sqlite"
    database.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        create_app({"TESTING": True})
    assert f"{database} is readable by other users (mode 0644)" in caplog.text

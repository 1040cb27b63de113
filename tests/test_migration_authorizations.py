"""Migration 0013 (grants -> authorizations) keeps each token's link both ways, on both backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from app.models import Client, User
from app.models.authorization import KIND_AUTHORIZATION_CODE
from app.services import authorizations, refresh_rotation, tokens
from tests.factories import UserFactory
from tests.helpers import skip_or_fail, throwaway_postgres_database
from tests.oauth.helpers import ClientFactory

SECRET_KEY = "migration-test-secret-" + "x" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def fresh_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own, migrated to head."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/migrations.sqlite"
        else:
            base_url = os.environ.get("TEST_DATABASE_URL")
            if not base_url:
                skip_or_fail("PostgreSQL tests need TEST_DATABASE_URL")
            url = stack.enter_context(throwaway_postgres_database(base_url))
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})
        with app.app_context():
            upgrade()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_refresh_token_keeps_its_authorization_through_downgrade_and_upgrade(
    fresh_app: Flask,
) -> None:
    user = UserFactory(fresh_app).create("mig")
    registered = ClientFactory(fresh_app).create(redirect_uris=["https://app.example/cb"])
    with fresh_app.app_context():
        client = db.session.get(Client, registered.client_id)
        owner = db.session.get(User, user.id)
        assert client is not None and owner is not None
        record = authorizations.create_authorization(
            KIND_AUTHORIZATION_CODE, client, owner, "openid offline_access", None
        )
        refresh_token = tokens.issue_refresh_token(record, "openid offline_access")
        authorization_id = record.id
        db.session.commit()
        db.session.remove()  # no transaction of ours may hold a lock the migration waits for

        downgrade(revision="0012")
        old = db.session.execute(
            text("SELECT g.id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id")
        ).scalars()
        assert list(old) == [authorization_id]
        db.session.remove()

        upgrade()
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []
            keys = inspect(connection).get_foreign_keys("refresh_tokens")
        assert [key["referred_table"] for key in keys] == ["authorizations"]
        if db.engine.dialect.name == "postgresql":
            assert keys[0]["name"] == "fk_refresh_tokens_authorization_id_authorizations"
        found = refresh_rotation.read(refresh_token)
        assert found is not None and found.authorization.id == authorization_id

"""``flask --app wsgi tokens purge``: what can no longer be used goes, nothing valid does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Authorization, AuthorizationCode, RefreshToken
from app.models.types import utcnow
from tests.oauth.helpers import OAuthActions, RegisteredClient


def purge(app: Flask, *args: str) -> dict[str, int]:
    result = app.test_cli_runner().invoke(args=["tokens", "purge", *args])
    assert result.exit_code == 0, result.output
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in result.output.splitlines()}


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_expired_and_revoked_rows_go_and_valid_tokens_keep_working(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    keep = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    gone = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    oauth.revoke(conf, gone["refresh_token"], token_type_hint="refresh_token")
    with app.app_context():
        long_ago = utcnow() - timedelta(days=2)
        db.session.execute(
            update(Authorization)
            .where(Authorization.revoked_at.is_not(None))
            .values(revoked_at=long_ago)
        )
        db.session.execute(update(AuthorizationCode).values(expires_at=long_ago))
        db.session.commit()
    assert count(app, Authorization) == 2

    removed = purge(app, "--batch-size", "1")
    assert removed["authorizations"] == 1
    assert removed["authorization_codes"] == 2
    assert count(app, Authorization) == 1 and count(app, AuthorizationCode) == 0
    assert oauth.userinfo(keep["access_token"]).status_code == 200
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=keep["refresh_token"])
    assert refreshed.status_code == 200
    assert oauth.userinfo(gone["access_token"]).status_code == 401


def test_a_second_run_finds_nothing(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.tokens_for(conf, scope="openid offline_access photos.read")
    purge(app)
    assert set(purge(app).values()) == {0}
    assert count(app, RefreshToken) == 1


def test_batch_size_must_be_positive(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["tokens", "purge", "--batch-size", "0"])
    assert result.exit_code != 0

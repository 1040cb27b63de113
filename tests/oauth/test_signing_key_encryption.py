"""Private signing keys are sealed at rest; ``flask keys rewrap`` changes the sealing key.

docs/security.md KS-01 (pen-test case 5): a local user who can read the database file must not
find a usable private key in it. The rows are read here as that attacker would, with a plain
database connection; tokens are checked at the API as a client would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, import_key
from sqlalchemy import create_engine, text

from app import create_app
from app.config import ConfigError
from app.extensions import db
from app.services import keys
from tests.live import flask_cli
from tests.oauth.helpers import OAuthActions, RegisteredClient

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
KEK_A = "kek-a-" + "a" * 40
KEK_B = "kek-b-" + "b" * 40
SCOPE = "openid photos.read"


def raw_rows(database_url: str) -> dict[str, str]:
    """{kid: private_jwk column as stored}, read past the application."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT kid, private_jwk FROM signing_keys"))
            return {kid: value if isinstance(value, str) else json.dumps(value)
                    for kid, value in rows}  # fmt: skip
    finally:
        engine.dispose()


def private_values(app: Flask, kid: str) -> list[str]:
    """The private members of ``kid`` as the application holds them in memory."""
    with app.app_context():
        key = keys.verification_key(kid)
        assert key is not None
        jwk = key.as_dict(private=True)
    return [str(jwk[name]) for name in PRIVATE_MEMBERS & set(jwk)]


def assert_nothing_usable_stored(app: Flask, database_url: str) -> None:
    stored = raw_rows(database_url)
    assert stored
    for kid, value in stored.items():
        assert '"d"' not in value, value
        assert not PRIVATE_MEMBERS & set(json.loads(value))
        for secret in private_values(app, kid):
            assert secret not in value
        with pytest.raises(JoseError):
            import_key(json.loads(value))


def cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def api_status(app: Flask, access_token: str) -> int:
    response = app.test_client().get(
        "/api/v1/photos", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


@contextmanager
def another_app(config: dict[str, Any]) -> Iterator[Flask]:
    """A second start of the server on the same database, as after a restart."""
    other = create_app(config)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.limits(KEY_ENCRYPTION_KEY=KEK_A)
def test_rotated_keys_are_stored_sealed_and_their_tokens_still_validate(
    app: Flask, database_url: str, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    first = oauth.tokens_for(conf, scope=SCOPE)
    assert oauth.http.get("/jwks.json").status_code == 200  # creates the RS256 key too
    code, output = cli(app, "keys", "rotate")
    assert code == 0, output
    second = oauth.tokens_for(conf, scope=SCOPE)

    assert len(raw_rows(database_url)) == 4
    assert_nothing_usable_stored(app, database_url)
    assert api_status(app, first["access_token"]) == 200
    assert api_status(app, second["access_token"]) == 200
    jwks = oauth.http.get("/jwks.json").json
    assert jwks is not None and len(jwks["keys"]) == 4
    assert all(not PRIVATE_MEMBERS & set(key) for key in jwks["keys"])


@pytest.mark.limits(KEY_ENCRYPTION_KEY=KEK_A)
def test_rewrap_with_a_new_kek_keeps_tokens_valid_and_the_old_kek_stops_working(
    app: Flask,
    app_config: dict[str, Any],
    database_url: str,
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    before = oauth.tokens_for(conf, scope=SCOPE)
    sealed_with_a = raw_rows(database_url)

    rotating = app_config | {"KEY_ENCRYPTION_KEY": KEK_B, "KEY_ENCRYPTION_KEYS_OLD": [KEK_A]}
    with another_app(rotating) as during:
        code, output = cli(during, "keys", "rewrap")
        assert code == 0, output
        assert output.startswith(f"sealed {len(sealed_with_a)} keys with key-encryption key ")

    sealed_with_b = raw_rows(database_url)
    assert set(sealed_with_b) == set(sealed_with_a)
    assert all(sealed_with_b[kid] != sealed_with_a[kid] for kid in sealed_with_a)
    with another_app(app_config | {"KEY_ENCRYPTION_KEY": KEK_B}) as after:
        assert api_status(after, before["access_token"]) == 200
        assert_nothing_usable_stored(after, database_url)
        refreshed = OAuthActions(after.test_client(), after.config["OAUTH_ISSUER"])
        assert api_status(after, refreshed.tokens_for(conf, scope=SCOPE)["access_token"]) == 200
    with pytest.raises(ConfigError, match="^KEY_ENCRYPTION_KEY: cannot decrypt signing key"):
        create_app(app_config | {"KEY_ENCRYPTION_KEY": KEK_A})


@pytest.mark.limits(KEY_ENCRYPTION_KEY=KEK_A)
def test_a_wrong_or_missing_kek_stops_the_start_with_a_clear_message(
    app: Flask,
    cli_env: dict[str, str],
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    oauth.tokens_for(conf, scope=SCOPE)
    wrong = flask_cli(cli_env | {"FLASK_KEY_ENCRYPTION_KEY": KEK_B}, "keys", "list")
    missing = flask_cli({k: v for k, v in cli_env.items() if "KEY_ENCRYPTION" not in k},
                        "keys", "list")  # fmt: skip
    for result in (wrong, missing):  # refused while loading the app, before any command
        assert result.returncode != 0
        assert "KEY_ENCRYPTION_KEY: cannot decrypt signing key" in result.stderr
    assert flask_cli(cli_env, "keys", "list").returncode == 0


def insert_plaintext_key(app: Flask) -> str:
    """A row as written before keys were sealed: the private JWK in the clear."""
    key = ECKey.generate_key("P-256", private=True)
    kid = "legacy" + "0" * 34
    public = key.as_dict(private=False) | {"kid": kid, "alg": "ES256", "use": "sig"}
    private = key.as_dict(private=True) | {"kid": kid, "alg": "ES256", "use": "sig"}
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO signing_keys (kid, alg, status, private_jwk, public_jwk, created_at)"
                " VALUES (:kid, 'ES256', 'active', :private, :public, CURRENT_TIMESTAMP)"
            ),
            {"kid": kid, "private": json.dumps(private), "public": json.dumps(public)},
        )
        db.session.commit()
    return kid


def test_legacy_plaintext_keys_still_work_warn_at_start_and_rewrap_seals_them(
    app: Flask,
    app_config: dict[str, Any],
    database_url: str,
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kid = insert_plaintext_key(app)
    with caplog.at_level(logging.WARNING), another_app(app_config) as restarted:
        assert "1 signing key is stored in plaintext" in caplog.text
        tokens = OAuthActions(restarted.test_client(), restarted.config["OAUTH_ISSUER"])
        access_token = tokens.tokens_for(conf, scope=SCOPE)["access_token"]
        assert api_status(restarted, access_token) == 200
        assert '"d"' in raw_rows(database_url)[kid]

        code, output = cli(restarted, "keys", "rewrap")
        assert code == 0, output
        assert "1 was plaintext" in output
    assert_nothing_usable_stored(app, database_url)
    caplog.clear()
    with caplog.at_level(logging.WARNING), another_app(app_config) as again:
        assert "plaintext" not in caplog.text
        assert api_status(again, access_token) == 200

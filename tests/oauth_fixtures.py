"""OAuth fixtures for every test package (loaded by tests/conftest.py as a plugin): the
clients of docs/security.md (conf, pub, pkj, cc) and a flow driver."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey

from tests.factories import UserFactory
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient

ALL_SCOPES = "openid profile email offline_access photos.read photos.write"


@pytest.fixture
def clients(app: Flask) -> ClientFactory:
    return ClientFactory(app)


@pytest.fixture
def oauth(client: FlaskClient, app: Flask) -> OAuthActions:
    return OAuthActions(client, app.config["OAUTH_ISSUER"])


@pytest.fixture
def alice(users: UserFactory) -> Any:
    return users.create("alice")


@pytest.fixture
def conf(clients: ClientFactory) -> RegisteredClient:
    """Confidential web app, client_secret_basic, code + refresh."""
    return clients.create(
        client_name="PhotoPrint",
        redirect_uris=["https://app.test/cb"],
        grant_types=["authorization_code", "refresh_token"],
        scope=ALL_SCOPES,
        post_logout_redirect_uris=["https://app.test/bye"],
    )


@pytest.fixture
def pub(clients: ClientFactory) -> RegisteredClient:
    """Public native app on loopback, no secret, PKCE."""
    return clients.create(
        client_name="Desktop app",
        redirect_uris=["http://127.0.0.1/cb"],
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="none",
        scope=ALL_SCOPES,
    )


@pytest.fixture
def pkj(clients: ClientFactory) -> RegisteredClient:
    """Confidential client authenticating with private_key_jwt."""
    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    return clients.create(
        private_key=key,
        client_name="Key client",
        redirect_uris=["https://pkj.test/cb"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope=ALL_SCOPES,
    )


@pytest.fixture
def cc(clients: ClientFactory) -> RegisteredClient:
    """Machine client: client_credentials only."""
    return clients.create(
        client_name="Batch job", grant_types=["client_credentials"], scope="photos.read"
    )

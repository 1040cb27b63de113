"""Photo API fixtures: users with real access tokens from the authorization server."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from tests.factories import UserFactory
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient
from tests.oauth_fixtures import ALL_SCOPES


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 24), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


class PhotoApi:
    """Calls /api/v1 with a bearer token, as a client would."""

    def __init__(self, http: FlaskClient, token: str) -> None:
        self.http = http
        self.token = token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} | extra

    def get(self, path: str, **extra: str) -> TestResponse:
        return self.http.get(f"/api/v1{path}", headers=self.headers(**extra))

    def upload(
        self, data: bytes | None = None, filename: str = "x.png", content_type: str = "image/png",
        **fields: Any,
    ) -> TestResponse:  # fmt: skip
        form: dict[str, Any] = dict(fields)
        form["file"] = (io.BytesIO(image_bytes() if data is None else data), filename, content_type)
        return self.http.post("/api/v1/photos", data=form, headers=self.headers(),
                              content_type="multipart/form-data")  # fmt: skip

    def patch(self, photo_id: str, body: Any) -> TestResponse:
        return self.http.patch(f"/api/v1/photos/{photo_id}", json=body, headers=self.headers())

    def delete(self, photo_id: str) -> TestResponse:
        return self.http.delete(f"/api/v1/photos/{photo_id}", headers=self.headers())


@pytest.fixture
def photoprint(clients: ClientFactory) -> RegisteredClient:
    return clients.create(
        client_name="PhotoPrint",
        redirect_uris=["https://photoprint.test/cb"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope=ALL_SCOPES,
    )


def token_for(oauth: OAuthActions, client: RegisteredClient, username: str, scope: str) -> str:
    """A real access token for ``username`` with ``scope``, through /authorize and /token."""
    tokens = oauth.tokens_for(client, username=username, scope=scope)
    return str(tokens["access_token"])


@pytest.fixture
def bob_api(
    app: Any, client: FlaskClient, oauth: OAuthActions, photoprint: RegisteredClient, bob: Any
) -> PhotoApi:
    token = token_for(oauth, photoprint, "bob", "openid photos.read photos.write")
    return PhotoApi(app.test_client(), token)


@pytest.fixture
def alice_api(app: Any, photoprint: RegisteredClient, users: UserFactory) -> PhotoApi:
    users.create("alice")
    http = app.test_client()
    oauth = OAuthActions(http, app.config["OAUTH_ISSUER"])
    token = token_for(oauth, photoprint, "alice", "openid photos.read photos.write")
    return PhotoApi(app.test_client(), token)

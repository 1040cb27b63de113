"""What ``demo`` prints is enough to follow the docs: each client's registered
token_endpoint_auth_method, and a client with photos.write for docs/api.md's upload example.

Issue 16, item 1: a client sending client_secret_post to a client_secret_basic registration
was refused without saying why; ``demo`` now names the method, and the README's upload
example (docs/api.md) works with the "Demo uploader" client it prints.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

from flask import Flask

from tests.api.conftest import image_bytes
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.helpers import OAuthActions, RegisteredClient

PRINTED = re.compile(
    r"^registered (?P<name>.+?) \(redirect (?P<redirect>\S+), scope (?P<scope>[^)]+)\):\n"
    r"(?P<json>\{.*?\n\})\n"
    r"token_endpoint_auth_method: (?P<method>\S+) \((?P<hint>[^)]+)\)$",
    re.MULTILINE | re.DOTALL,
)


def demo_output(app: Flask) -> str:
    result = app.test_cli_runner().invoke(
        args=["demo", "--password-stdin"], input=DEFAULT_PASSWORD + "\n"
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def printed_clients(output: str) -> dict[str, dict[str, Any]]:
    found = {}
    for match in PRINTED.finditer(output):
        found[match["name"]] = match.groupdict() | json.loads(match["json"])
    return found


def test_demo_prints_each_clients_authentication_method(app: Flask) -> None:
    printed = printed_clients(demo_output(app))
    assert set(printed) == {"PhotoPrint", "Demo uploader"}
    for client in printed.values():
        assert client["method"] == "client_secret_basic"
        assert client["hint"] == "send the secret in an HTTP Basic header"
        assert client["client_id"] and client["client_secret"]
    assert "photos.write" in printed["Demo uploader"]["scope"].split()
    assert "photos.write" not in printed["PhotoPrint"]["scope"].split()


def test_the_upload_example_works_with_the_uploader_demo_prints(
    app: Flask, oauth: OAuthActions
) -> None:
    """docs/api.md: a token for "Demo uploader" (Basic auth, as printed) uploads a photo."""
    printed = printed_clients(demo_output(app))["Demo uploader"]
    uploader = RegisteredClient(
        printed["client_id"],
        printed["client_secret"],
        {"redirect_uris": [printed["redirect"]], "token_endpoint_auth_method": printed["method"]},
    )
    flow = oauth.approve(uploader, scope=printed["scope"])
    raw = f"{printed['client_id']}:{printed['client_secret']}".encode()  # curl -u id:secret
    response = oauth.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": printed["redirect"],
            "code_verifier": flow.verifier,
        },
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    token = response.json["access_token"]  # type: ignore[index]
    upload = oauth.http.post(
        "/api/v1/photos",
        data={"file": (io.BytesIO(image_bytes("JPEG")), "beach.jpg"), "title": "Beach"},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_data(as_text=True)
    assert "/api/v1/photos/" in upload.headers["Location"]
    photo = oauth.http.get(upload.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    assert photo.status_code == 200 and photo.json["title"] == "Beach"  # type: ignore[index]


def test_the_uploader_sending_client_secret_post_is_told_to_use_basic(
    app: Flask, oauth: OAuthActions
) -> None:
    printed = printed_clients(demo_output(app))["Demo uploader"]
    response = oauth.http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": printed["client_id"],
            "client_secret": printed["client_secret"],
        },
    )
    assert response.status_code == 401
    assert response.json["error_description"] == (  # type: ignore[index]
        "This client is registered for client_secret_basic; the request used client_secret_post."
    )

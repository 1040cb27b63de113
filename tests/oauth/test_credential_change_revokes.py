"""A new password or a disabled account ends every token the user granted (pen-test case 8).

Whoever stole bob's password may have used it to approve a client of their own; bob's new
password must cut that client off, not only his browser sessions.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.oauth.helpers import OAuthActions, RegisteredClient


@pytest.mark.parametrize(
    "command",
    [
        ("users", "set-password", "bob", "--password-stdin"),
        ("users", "disable", "bob"),
    ],
    ids=["set-password", "disable"],
)
def test_refresh_and_access_tokens_end_with_the_credentials(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any, command: tuple[str, ...]
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    assert oauth.userinfo(tokens["access_token"]).status_code == 200

    result = app.test_cli_runner().invoke(args=list(command), input="a new long password\n")
    assert result.exit_code == 0, result.output

    response = oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert response.status_code == 400 and response.json == {
        "error": "invalid_grant",
        "error_description": response.json["error_description"],
    }
    refused = oauth.userinfo(tokens["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    photos = oauth.http.get(
        "/api/v1/photos", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert photos.status_code == 401

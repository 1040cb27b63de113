"""Registering device clients (RFC 8628 §3.4 grant type in RFC 7591 metadata) via the CLI
and the registration rules: no redirect URIs needed, no response types, refresh allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from app.services.client_metadata import ClientMetadataError, validate_metadata
from tests.oauth.device_helpers import DEVICE_GRANT, DeviceActions
from tests.oauth.helpers import OAuthActions, RegisteredClient


def test_cli_registers_a_public_device_client_that_can_start_the_flow(
    app: Flask, oauth: OAuthActions
) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "clients", "create", "--name", "Living-room TV",
            "--grant-types", f"{DEVICE_GRANT},refresh_token",
            "--token-endpoint-auth-method", "none", "--scope", "openid photos.read offline_access",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    info: dict[str, Any] = json.loads(result.output)
    assert info["grant_types"] == [DEVICE_GRANT, "refresh_token"]
    assert "redirect_uris" not in info and "response_types" not in info
    assert "client_secret" not in info
    tv = RegisteredClient(info["client_id"], None, info)
    data = DeviceActions(oauth, app).start(tv)
    assert data["user_code"]


def test_cli_registers_a_confidential_device_client(app: Flask, oauth: OAuthActions) -> None:
    result = app.test_cli_runner().invoke(
        args=["clients", "create", "--name", "Set-top box", "--grant-types", DEVICE_GRANT]
    )
    assert result.exit_code == 0, result.output
    info: dict[str, Any] = json.loads(result.output)
    box = RegisteredClient(info["client_id"], info["client_secret"], info)
    assert DeviceActions(oauth, app).authorize(box).status_code == 200


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"grant_types": ["urn:ietf:params:oauth:grant-type:device"]}, "is not supported"),
        ({"grant_types": [DEVICE_GRANT], "response_types": ["code"]}, "response_types"),
    ],
)
def test_registration_rules_for_device_clients(metadata: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientMetadataError, match=message):
        validate_metadata({"client_name": "TV"} | metadata)


@pytest.mark.usefixtures("app")
def test_refresh_token_goes_with_the_device_grant_too() -> None:
    clean = validate_metadata({"client_name": "TV", "grant_types": [DEVICE_GRANT, "refresh_token"]})
    assert clean["grant_types"] == [DEVICE_GRANT, "refresh_token"]
    assert "offline_access" in clean["scope"].split()
    assert "response_types" not in clean

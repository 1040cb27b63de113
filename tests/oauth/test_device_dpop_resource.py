"""The device grant meets DPoP (RFC 9449) and resource indicators (RFC 8707): a device may
bind its tokens to a key and name the API its tokens are for, as any other client can."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.oauth.device_helpers import DEVICE_GRANT, DeviceActions, register_device_client
from tests.oauth.dpop_support import DPoPClient, claims_of, post_token
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient

PRINT_API = "https://print.example.com/api"
ISSUER = "http://127.0.0.1:5000"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"OAUTH_EXTRA_RESOURCES": [PRINT_API]}


@pytest.fixture
def device(oauth: OAuthActions, app: Flask) -> DeviceActions:
    return DeviceActions(oauth, app)


def approved_device_code(device: DeviceActions, client: RegisteredClient, **form: Any) -> str:
    started = device.start(client, **form)
    device.approve(started["user_code"])
    return str(started["device_code"])


def poll_with(
    oauth: OAuthActions, client: RegisteredClient, device_code: str, key: DPoPClient | None
) -> TestResponse:
    proof = key.proof("POST", f"{ISSUER}/token") if key else None
    return post_token(oauth, client, proof, grant_type=DEVICE_GRANT, device_code=device_code)


def test_a_device_binds_its_tokens_to_its_key(
    device: DeviceActions, oauth: OAuthActions, clients: ClientFactory, bob: Any
) -> None:
    tv = register_device_client(clients)
    key = DPoPClient()
    response = poll_with(oauth, tv, approved_device_code(device, tv), key)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}
    other = DPoPClient()  # the public client's refresh token is bound to the first key
    refused = post_token(
        oauth, tv, other.proof("POST", f"{ISSUER}/token"),
        grant_type="refresh_token", refresh_token=body["refresh_token"],
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.json is not None and refused.json["error"] == "invalid_grant"


def test_a_device_registered_for_dpop_must_prove_a_key_and_keeps_its_code(
    device: DeviceActions, oauth: OAuthActions, clients: ClientFactory, bob: Any
) -> None:
    tv = register_device_client(clients, dpop_bound_access_tokens=True)
    device_code = approved_device_code(device, tv)
    refused = poll_with(oauth, tv, device_code, None)
    assert refused.status_code == 400
    assert refused.json is not None and refused.json["error"] == "invalid_dpop_proof"
    accepted = poll_with(oauth, tv, device_code, DPoPClient())  # not spent by the refusal
    assert accepted.status_code == 200, accepted.json
    assert accepted.json is not None and accepted.json["token_type"] == "DPoP"


def test_a_device_names_the_resource_its_tokens_are_for(
    device: DeviceActions, oauth: OAuthActions, clients: ClientFactory, bob: Any
) -> None:
    tv = register_device_client(clients)
    device_code = approved_device_code(device, tv, resource=PRINT_API)
    response = poll_with(oauth, tv, device_code, None)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    assert claims_of(body["access_token"])["aud"] == PRINT_API
    api = oauth.http.get(
        "/api/v1/photos", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert api.status_code == 401  # a token for the print API is not one for the photo API


def test_a_device_asking_for_an_unknown_resource_gets_invalid_target(
    device: DeviceActions, clients: ClientFactory
) -> None:
    tv = register_device_client(clients)
    response = device.authorize(tv, resource="https://elsewhere.example.com/api")
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_target"
    fragment = device.authorize(tv, resource=f"{PRINT_API}#part")
    assert fragment.json is not None and fragment.json["error"] == "invalid_target"

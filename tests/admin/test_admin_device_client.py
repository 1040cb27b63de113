"""The admin console registers device clients (RFC 8628 grant type) like any other."""

from __future__ import annotations

from flask import Flask

from tests.admin.conftest import AdminConsole, shown_credentials, stored_clients
from tests.oauth.device_helpers import DEVICE_GRANT, DeviceActions
from tests.oauth.helpers import OAuthActions, RegisteredClient


def test_form_offers_the_device_grant(admin: AdminConsole) -> None:
    html = admin.get("/admin/clients/new").get_data(as_text=True)
    assert f'value="{DEVICE_GRANT}"' in html


def test_admin_registers_a_device_client_that_can_start_the_flow(
    app: Flask, admin: AdminConsole, oauth: OAuthActions
) -> None:
    response = admin.register(
        client_name="Kitchen frame", redirect_uris="", grant_types=[DEVICE_GRANT],
        token_endpoint_auth_method="none", scope="openid photos.read",
    )  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    shown = shown_credentials(response)
    assert set(shown) == {"Client ID"}
    (stored,) = stored_clients(app)
    assert stored.grant_types == [DEVICE_GRANT] and stored.response_types == []
    frame = RegisteredClient(shown["Client ID"], None, {"token_endpoint_auth_method": "none"})
    assert DeviceActions(oauth, app).authorize(frame).status_code == 200

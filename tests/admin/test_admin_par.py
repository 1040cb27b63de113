"""The admin console's "Require pushed authorization requests (PAR)" checkbox (RFC 9126 §6)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.admin.conftest import AdminConsole, stored_clients
from tests.oauth.helpers import RegisteredClient

LABEL = "Require pushed authorization requests (PAR)"


def flag(app: Flask, name: str) -> Any:
    [client] = [c for c in stored_clients(app) if c.client_name == name]
    return client.client_metadata.get("require_pushed_authorization_requests")


def test_register_form_offers_the_par_checkbox_unticked(admin: AdminConsole) -> None:
    html = admin.get("/admin/clients/new").get_data(as_text=True)
    assert f">{LABEL}</label>" in html
    assert 'name="require_pushed_authorization_requests" type="checkbox" value="y">' in html


def test_ticking_the_checkbox_registers_a_client_that_must_use_par(
    app: Flask, admin: AdminConsole
) -> None:
    response = admin.register(client_name="Strict", require_pushed_authorization_requests="y")
    assert response.status_code == 201
    assert flag(app, "Strict") is True
    assert admin.register(client_name="Relaxed").status_code == 201
    assert flag(app, "Relaxed") is None


def test_editing_shows_and_clears_the_flag(
    app: Flask, admin: AdminConsole, conf: RegisteredClient
) -> None:
    path = f"/admin/clients/{conf.client_id}/edit"
    form = {
        "client_name": "PhotoPrint",
        "redirect_uris": conf.redirect_uri,
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": conf.metadata["scope"],
    }
    assert (
        admin.post(path, form | {"require_pushed_authorization_requests": "y"}).status_code == 303
    )
    assert flag(app, "PhotoPrint") is True
    html = admin.get(path).get_data(as_text=True)
    assert 'checked id="require_pushed_authorization_requests"' in html
    assert admin.post(path, form).status_code == 303
    assert flag(app, "PhotoPrint") is None

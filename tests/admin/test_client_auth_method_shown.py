"""The admin console says which token_endpoint_auth_method a client is registered for, and how
to use it (issue 16: a client using another method is refused, naming the registered one)."""

from __future__ import annotations

from html import unescape

import pytest

from tests.admin.conftest import AdminConsole, shown_credentials


@pytest.mark.parametrize(
    ("method", "hint"),
    [
        ("client_secret_basic", "send the secret in an HTTP Basic header"),
        ("client_secret_post", "send client_id and client_secret in the form body"),
    ],
)
def test_the_client_pages_name_the_registered_method_and_how_to_use_it(
    admin: AdminConsole, method: str, hint: str
) -> None:
    registered = admin.register(token_endpoint_auth_method=method)
    assert registered.status_code == 201, registered.get_data(as_text=True)
    shown = f"<code>{method}</code>: {hint}"
    assert shown in unescape(registered.get_data(as_text=True))  # the secret-shown-once page
    client_id = shown_credentials(registered)["Client ID"]
    detail = admin.get(f"/admin/clients/{client_id}")
    assert detail.status_code == 200
    page = unescape(detail.get_data(as_text=True))
    assert f"<dt>Authentication method</dt><dd>{shown}." in page
    assert "A request using another method is refused, naming this one." in page

"""/admin/clients: who may open it, the "Register client" form (the same rules as the CLI,
all-or-nothing, CSRF), the client page's "Rotate secret" and "Delete" (docs/security.md LS-08,
LS-09, UI-04)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.admin.conftest import AdminConsole, shown_credentials, stored_clients
from tests.helpers import AuthActions, csrf_token_from
from tests.oauth.helpers import OAuthActions, RegisteredClient, query_of

HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def field_error(html: str, field: str) -> str:
    """The inline message shown next to ``field`` ("" when there is none)."""
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    return unescape(match.group(1)) if match else ""


def credentials(shown: dict[str, str], metadata: dict[str, Any]) -> RegisteredClient:
    secret = shown.get("Client secret")
    return RegisteredClient(shown["Client ID"], secret, metadata)


# -- who may open the console ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/clients", "/admin/clients/new", "/admin/clients/abc123"])
def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("path", ["/admin/clients", "/admin/clients/new", "/admin/clients/x"])
def test_non_admin_gets_403_on_every_page(
    client: FlaskClient, auth: AuthActions, bob: Any, path: str
) -> None:
    auth.login("bob")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("action", ["new", "rotate-secret", "delete"])
def test_non_admin_post_is_403_and_changes_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, bob: Any, cc: RegisteredClient,
    oauth: OAuthActions, action: str,
) -> None:  # fmt: skip
    auth.login("bob")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    path = "/admin/clients/new" if action == "new" else f"/admin/clients/{cc.client_id}/{action}"
    form = {"csrf_token": token, "client_name": "Sneaky", "grant_types": "client_credentials"}
    assert client.post(path, data=form).status_code == 403
    assert [c.client_name for c in stored_clients(app)] == ["Batch job"]
    assert oauth.token(cc, grant_type="client_credentials").status_code == 200


# -- the "Register client" form -------------------------------------------------------------


def test_form_has_the_rfc7591_fields_and_defaults(admin: AdminConsole) -> None:
    html = admin.get("/admin/clients/new").get_data(as_text=True)
    for label in ("Client name", "Redirect URIs", "Scope", "Authentication method",
                  "JWKS URI", "Logo URI", "Client URI", "Post-logout redirect URIs"):  # fmt: skip
        assert f">{label}</label>" in html
    for grant in ("authorization_code", "refresh_token", "client_credentials"):
        assert re.search(
            rf'type="checkbox" value="{grant}"> <label for="[^"]+">{grant}</label>', html
        )
    assert 'value="openid profile email photos.read"' in html
    assert '<option selected value="client_secret_basic">' in html
    assert "<textarea" in html and ">Register</button>" in html


def test_admin_registers_a_confidential_client_and_it_works_at_the_token_endpoint(
    app: Flask, admin: AdminConsole, oauth: OAuthActions
) -> None:
    response = admin.register(
        client_name="Nightly export", redirect_uris="", grant_types=["client_credentials"],
        scope="photos.read",
    )  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    shown = shown_credentials(response)
    assert set(shown) == {"Client ID", "Client secret"}
    machine = credentials(shown, {"token_endpoint_auth_method": "client_secret_basic"})

    issued = oauth.token(machine, grant_type="client_credentials")
    assert issued.status_code == 200, issued.get_data(as_text=True)
    assert issued.json is not None and issued.json["scope"] == "photos.read"

    # The secret is shown this once: neither the client page nor the list carries it.
    assert response.headers["Location"] == f"/admin/clients/{machine.client_id}"
    for path in (response.headers["Location"], "/admin/clients"):
        page = admin.get(path).get_data(as_text=True)
        assert machine.client_id in page
        assert str(machine.client_secret) not in page
    assert [c.client_name for c in stored_clients(app)] == ["Nightly export"]


def test_public_client_result_page_shows_no_secret(admin: AdminConsole) -> None:
    response = admin.register(
        client_name="Desktop app", redirect_uris="http://127.0.0.1/cb",
        grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
    )  # fmt: skip
    assert response.status_code == 201
    assert set(shown_credentials(response)) == {"Client ID"}
    assert "has no secret" in response.get_data(as_text=True)


def test_one_bad_redirect_uri_among_three_stores_nothing_and_keeps_the_input(
    app: Flask, admin: AdminConsole
) -> None:
    typed = "https://app.test/one\nhttp://evil.test/cb\nhttps://app.test/three"
    response = admin.register(redirect_uris=typed)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_error(html, "redirect_uris") == (
        "redirect_uris: 'http://evil.test/cb' must use https unless the host is loopback"
    )
    assert 'aria-invalid="true" autocomplete="off" id="redirect_uris"' in html
    assert typed in unescape(html)
    assert 'value="PhotoPrint"' in html
    assert stored_clients(app) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"client_name": "  "}, "client_name", "client_name: Length must be between 1 and 200."),
        ({"grant_types": []}, "grant_types", "grant_types: at least one grant type is required"),
        ({"grant_types": ["refresh_token"]}, "grant_types", "refresh_token needs"),
        ({"redirect_uris": ""}, "redirect_uris", "required for the authorization_code grant"),
        ({"redirect_uris": "https://app.test/cb#frag"}, "redirect_uris", "fragment"),
        ({"scope": "openid admin"}, "scope", "scope: unknown scope 'admin'"),
        ({"logo_uri": "javascript:alert(1)"}, "logo_uri", "logo_uri: must be an https URL"),
        ({"client_uri": "data:text/html,hi"}, "client_uri", "client_uri: must be an https URL"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks_uri", "needs jwks or jwks_uri"),
        ({"token_endpoint_auth_method": "magic"}, "token_endpoint_auth_method", "use one of"),
        ({"jwks_uri": "http://keys.test/jwks"}, "jwks_uri", "jwks_uri: must be an https URL"),
        ({"post_logout_redirect_uris": "ftp://x.test/"}, "post_logout_redirect_uris", "https"),
        ({"client_name": "Photo\u202ePrint"}, "client_name", "client_name: must not contain"),
        ({"redirect_uris": "https://app.test/\u200bcb"}, "redirect_uris", "must not contain"),
        (
            {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"},
            "grant_types",
            "a public client cannot use client_credentials",
        ),
    ],
)
def test_each_metadata_error_is_shown_next_to_its_field(
    app: Flask, admin: AdminConsole, fields: dict[str, Any], field: str, message: str
) -> None:
    response = admin.register(**fields)
    assert response.status_code == 400
    assert message in field_error(response.get_data(as_text=True), field)
    assert stored_clients(app) == []


def test_post_without_csrf_token_is_refused_and_stores_nothing(
    app: Flask, admin: AdminConsole
) -> None:
    form = {"client_name": "No token", "redirect_uris": "https://app.test/cb",
            "grant_types": "authorization_code"}  # fmt: skip
    response = admin.http.post("/admin/clients/new", data=form)
    assert response.status_code == 400
    forged = admin.http.post("/admin/clients/new", data=form | {"csrf_token": "forged"})
    assert forged.status_code == 400
    assert stored_clients(app) == []


def test_hostile_client_name_is_shown_as_text_everywhere_in_the_console(
    admin: AdminConsole,
) -> None:
    created = admin.register(client_name=HOSTILE_NAME)
    assert created.status_code == 201
    client_id = shown_credentials(created)["Client ID"]
    for response in (
        created,
        admin.get("/admin/clients"),
        admin.get(f"/admin/clients/{client_id}"),
    ):
        html = response.get_data(as_text=True)
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<img" not in html


# -- the list and the client page -----------------------------------------------------------


def test_list_shows_type_grants_and_secret_age(
    admin: AdminConsole, cc: RegisteredClient, pub: RegisteredClient, pkj: RegisteredClient
) -> None:
    html = admin.get("/admin/clients").get_data(as_text=True)
    rows = {
        name: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for name in ("Batch job", "Desktop app", "Key client")
        if f">{name}</a>" in row
    }
    cells = {name: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for name, row in rows.items()}
    assert cells["Batch job"][1:] == ["confidential", "client_credentials", cells["Batch job"][3],
                                      "—", "0 days"]  # fmt: skip
    assert cells["Desktop app"][1:3] == ["public", "authorization_code, refresh_token"]
    assert cells["Desktop app"][-1] == "—"  # no secret
    assert cells["Key client"][1] == "confidential" and cells["Key client"][-1] == "—"
    assert ">Register client</a>" in html


def test_client_page_shows_its_metadata_and_buttons(
    admin: AdminConsole, conf: RegisteredClient, pub: RegisteredClient
) -> None:
    html = admin.get(f"/admin/clients/{conf.client_id}").get_data(as_text=True)
    for text in ("PhotoPrint", conf.client_id, "client_secret_basic", "https://app.test/cb",
                 "https://app.test/bye", "authorization_code, refresh_token"):  # fmt: skip
        assert text in html
    assert ">Rotate secret</button>" in html and ">Delete</button>" in html
    assert "Old secret keeps working for" in html
    public = admin.get(f"/admin/clients/{pub.client_id}").get_data(as_text=True)
    assert ">Rotate secret</button>" not in public and ">Delete</button>" in public


def test_unknown_client_page_is_404(admin: AdminConsole) -> None:
    assert admin.get("/admin/clients/nope").status_code == 404
    assert admin.post("/admin/clients/nope/delete").status_code == 404


def test_rotate_secret_shows_a_new_secret_once_and_the_old_one_stops(
    admin: AdminConsole, cc: RegisteredClient, oauth: OAuthActions
) -> None:
    response = admin.post(f"/admin/clients/{cc.client_id}/rotate-secret")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = shown_credentials(response)
    assert shown["Client ID"] == cc.client_id
    assert shown["Client secret"] != cc.client_secret

    rotated = RegisteredClient(cc.client_id, shown["Client secret"], cc.metadata)
    assert oauth.token(rotated, grant_type="client_credentials").status_code == 200
    assert oauth.token(cc, grant_type="client_credentials").status_code == 401
    page = admin.get(f"/admin/clients/{cc.client_id}").get_data(as_text=True)
    assert shown["Client secret"] not in page


def test_rotate_secret_of_a_public_client_is_refused(
    admin: AdminConsole, pub: RegisteredClient
) -> None:
    response = admin.post(f"/admin/clients/{pub.client_id}/rotate-secret")
    assert response.status_code == 400
    assert "not a secret" in response.get_data(as_text=True)


def test_delete_ends_the_clients_tokens(
    app: Flask, admin: AdminConsole, bob: Any, conf: RegisteredClient, oauth: OAuthActions
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    assert oauth.userinfo(tokens["access_token"]).status_code == 200

    response = admin.post(f"/admin/clients/{conf.client_id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/clients"
    assert oauth.userinfo(tokens["access_token"]).status_code == 401
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 401
    assert stored_clients(app) == []
    listing = admin.get("/admin/clients").get_data(as_text=True)
    assert "Deleted PhotoPrint; its tokens no longer work." in listing


def test_admin_edits_a_client_under_the_registration_rules(admin: Any, conf: Any) -> None:
    from tests.helpers import csrf_token_from

    admin_http = admin.http
    page = admin_http.get(f"/admin/clients/{conf.client_id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "https://app.test/cb" in html
    form = {
        "csrf_token": csrf_token_from(html),
        "client_name": "PhotoPrint Pro",
        "redirect_uris": "https://app.test/cb\nhttps://app.test/cb2",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid photos.read",
    }
    saved = admin_http.post(f"/admin/clients/{conf.client_id}/edit", data=form)
    assert saved.status_code == 303
    shown = admin_http.get(f"/admin/clients/{conf.client_id}").get_data(as_text=True)
    assert "PhotoPrint Pro" in shown and "https://app.test/cb2" in shown
    bad = admin_http.post(
        f"/admin/clients/{conf.client_id}/edit",
        data=form | {"redirect_uris": "http://evil.test/cb"},
    )
    assert bad.status_code == 400
    assert "must use https unless the host is loopback" in bad.get_data(as_text=True)
    unchanged = admin_http.get(f"/admin/clients/{conf.client_id}").get_data(as_text=True)
    assert "https://app.test/cb2" in unchanged and "evil.test" not in unchanged


def test_admin_edit_of_the_redirect_uris_asks_users_for_consent_again(
    admin: AdminConsole, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """docs/security.md NA-02: a new redirect URI ends silent re-authorization; a rename
    does not."""
    oauth.approve(conf, scope="openid")
    path = f"/admin/clients/{conf.client_id}/edit"
    form = {
        "client_name": "PhotoPrint renamed",
        "redirect_uris": "https://app.test/cb",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid photos.read",
    }
    assert admin.post(path, form).status_code == 303
    silent, _ = oauth.authorize(conf, scope="openid", prompt="none")
    assert "code" in query_of(silent.headers["Location"])
    moved = form | {"redirect_uris": "https://app.test/cb\nhttps://elsewhere.test/cb"}
    assert admin.post(path, moved).status_code == 303
    asked, _ = oauth.authorize(conf, scope="openid", prompt="none")
    assert query_of(asked.headers["Location"])["error"] == "consent_required"

"""/admin/users: list, "Create user", "Make admin", "Disable" (docs/security.md LS-08): for admins
only, through ``services.users``, and no admin can disable or demote themselves."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from app.services import users as user_service
from tests.admin.conftest import AdminConsole
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import AuthActions, csrf_token_from
from tests.oauth.helpers import OAuthActions, RegisteredClient

NEW_USER = {"username": "carol", "email": "carol@example.com", "password": "a long passphrase"}


def user_named(app: Flask, username: str) -> User | None:
    with app.app_context():
        return user_service.find_by_username(username)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    return unescape(match.group(1)) if match else ""


def alert(html: str) -> str:
    match = re.search(r'<p class="alert" role="alert">([^<]*)</p>', html)
    return unescape(match.group(1)) if match else ""


# -- who may open the page ------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Fusers"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/admin/users", NEW_USER | {"is_admin": "y"}),
        ("/admin/users/bob/admin", {"admin": "1"}),
        ("/admin/users/root/disable", {}),
    ],
)
def test_non_admin_gets_403_and_changes_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, bob: Any, root: Any, path: str,
    form: dict[str, str],
) -> None:  # fmt: skip
    auth.login("bob")
    assert client.get("/admin/users").status_code == 403
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post(path, data=form | {"csrf_token": token}).status_code == 403
    assert user_named(app, "carol") is None
    bob_now, root_now = user_named(app, "bob"), user_named(app, "root")
    assert bob_now is not None and not bob_now.is_admin
    assert root_now is not None and root_now.is_active


# -- list and create ------------------------------------------------------------------------


def test_list_shows_each_user(admin: AdminConsole, bob: Any, users: Any) -> None:
    users.disable("bob")
    html = admin.get("/admin/users").get_data(as_text=True)
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', html, re.S))
    bob_cells = re.findall(r"<td[^>]*>([^<]*)", rows["bob"])
    assert bob_cells[:3] == ["bob@example.com", "no", "no"]
    assert re.findall(r"<td[^>]*>([^<]*)", rows["root"])[:3] == ["root@example.com", "yes", "yes"]
    assert "Disable" not in rows["bob"]  # already disabled
    assert ">you</span>" in rows["root"]


def test_admin_creates_a_user_who_can_sign_in(
    app: Flask, admin: AdminConsole, client: FlaskClient, auth: AuthActions
) -> None:
    response = admin.post("/admin/users", NEW_USER)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users"
    assert "Created carol." in admin.get("/admin/users").get_data(as_text=True)
    carol = user_named(app, "carol")
    assert carol is not None and not carol.is_admin
    assert auth.login("carol", NEW_USER["password"]).status_code == 303
    assert client.get("/admin/users").status_code == 403


def test_admin_checkbox_creates_an_admin(app: Flask, admin: AdminConsole) -> None:
    assert admin.post("/admin/users", NEW_USER | {"is_admin": "y"}).status_code == 303
    carol = user_named(app, "carol")
    assert carol is not None and carol.is_admin


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "x"}, "username", "username must be 2-64 characters"),
        ({"username": "bob"}, "username", "username 'bob' is already taken"),
        ({"email": "not-an-address"}, "email", "invalid email"),
        ({"email": "bob@example.com"}, "email", "email 'bob@example.com' is already registered"),
        ({"password": "short"}, "password", "password must be at least 8 characters"),
        ({"password": ""}, "password", "password must not be empty"),
    ],
)
def test_invalid_user_is_refused_inline_and_nothing_is_stored(
    app: Flask, admin: AdminConsole, bob: Any, changes: dict[str, str], field: str, message: str
) -> None:
    response = admin.post("/admin/users", NEW_USER | changes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert f'value="{changes.get("username", "carol")}"' in html  # what was typed stays
    assert "a long passphrase" not in html  # but never the password
    assert user_named(app, "carol") is None


def test_post_without_csrf_token_is_refused(app: Flask, admin: AdminConsole, bob: Any) -> None:
    assert admin.http.post("/admin/users", data=NEW_USER).status_code == 400
    assert admin.http.post("/admin/users/bob/disable").status_code == 400
    assert user_named(app, "carol") is None
    bob_now = user_named(app, "bob")
    assert bob_now is not None and bob_now.is_active


# -- make admin, disable --------------------------------------------------------------------


def test_make_admin_and_remove_admin_take_effect_on_the_next_request(
    admin: AdminConsole, bob: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("bob")
    assert client.get("/admin/clients").status_code == 403

    made = admin.post("/admin/users/bob/admin", {"admin": "1"})
    assert made.status_code == 303 and made.headers["Location"] == "/admin/users"
    assert "bob is now an admin." in admin.get("/admin/users").get_data(as_text=True)
    assert client.get("/admin/clients").status_code == 200

    assert admin.post("/admin/users/bob/admin", {"admin": "0"}).status_code == 303
    assert client.get("/admin/clients").status_code == 403


def test_disable_ends_the_users_sign_in_and_tokens(
    app: Flask, admin: AdminConsole, bob: Any, conf: RegisteredClient, oauth: OAuthActions,
    client: FlaskClient,
) -> None:  # fmt: skip
    tokens = oauth.tokens_for(conf)  # bob signs in on ``client`` and allows PhotoPrint
    assert oauth.userinfo(tokens["access_token"]).status_code == 200

    response = admin.post("/admin/users/bob/disable")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users"
    assert oauth.userinfo(tokens["access_token"]).status_code == 401
    assert client.get("/admin/clients").status_code == 302  # signed out, not 403
    bob_now = user_named(app, "bob")
    assert bob_now is not None and not bob_now.is_active
    assert AuthActions(client).login("bob", DEFAULT_PASSWORD).status_code == 200  # refused


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/admin/users/root/disable", {}, "You cannot disable your own account"),
        ("/admin/users/root/admin", {"admin": "0"}, "You cannot remove your own admin rights"),
        ("/admin/users/ROOT/disable", {}, "You cannot disable your own account"),
    ],
)
def test_admin_cannot_disable_or_demote_themselves(
    app: Flask, admin: AdminConsole, path: str, form: dict[str, str], message: str
) -> None:
    response = admin.post(path, form)
    assert response.status_code == 400
    assert alert(response.get_data(as_text=True)).startswith(message)
    root = user_named(app, "root")
    assert root is not None and root.is_active and root.is_admin
    assert admin.get("/admin/users").status_code == 200


def test_unknown_user_is_refused(admin: AdminConsole) -> None:
    response = admin.post("/admin/users/nobody/disable")
    assert response.status_code == 400
    assert alert(response.get_data(as_text=True)) == "no user named 'nobody'"


# -- storage quota (docs/security.md API-05) ----------------------------------------------------


def test_admin_sets_and_clears_a_users_storage_quota(
    app: Flask, admin: AdminConsole, bob: Any
) -> None:
    response = admin.post("/admin/users/bob/quota", {"storage_quota_bytes": "5000000"})
    assert response.status_code == 303
    assert "bob may now store 5.0 MB of photos." in admin.get("/admin/users").get_data(as_text=True)
    bob_now = user_named(app, "bob")
    assert bob_now is not None and bob_now.storage_quota_bytes == 5_000_000
    assert admin.post("/admin/users/bob/quota", {"storage_quota_bytes": ""}).status_code == 303
    bob_now = user_named(app, "bob")
    assert bob_now is not None and bob_now.storage_quota_bytes is None


@pytest.mark.parametrize("value", ["-5", "five", "1.5", "9" * 30])
def test_a_nonsense_quota_is_refused_and_nothing_changes(
    app: Flask, admin: AdminConsole, bob: Any, value: str
) -> None:
    response = admin.post("/admin/users/bob/quota", {"storage_quota_bytes": value})
    assert response.status_code == 400
    assert "storage quota: a number of bytes" in alert(response.get_data(as_text=True))
    bob_now = user_named(app, "bob")
    assert bob_now is not None and bob_now.storage_quota_bytes is None

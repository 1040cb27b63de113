"""Client configuration endpoint (RFC 7592 §2): read, replace and delete a dynamically
registered client with its registration access token.

Covers RFC 7592 §2 (401 invalid_token for a wrong token, another client's token, an unknown
client or a client without a token: existence is not revealed), §2.1 (read: 200, no-store),
§2.2 (update replaces the metadata: omitted fields are dropped; client_id must match; the
client_secret cannot be chosen; RFC 7591 §3.2.2 errors), §2.3 (delete: 204, tokens end).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.scopes import DEFAULT_CLIENT_SCOPE
from tests.oauth.helpers import OAuthActions, RegisteredClient, query_of
from tests.oauth.registration_helpers import (
    ISSUER,
    MACHINE,
    WEB_APP,
    Registrar,
    as_registered,
    challenge_error,
    client_count,
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"REGISTRATION_MODE": "open"}


@pytest.fixture
def registrar(app: Flask, client: FlaskClient) -> Registrar:
    return Registrar(app, client)


@pytest.fixture
def web(registrar: Registrar) -> dict[str, Any]:
    """A confidential web app's registration response (with its secret and token)."""
    return registrar.registered(WEB_APP)


@pytest.fixture
def machine(registrar: Registrar) -> dict[str, Any]:
    return registrar.registered(MACHINE)


def assert_denied(response: Any, bare: bool = False) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_token"
    assert challenge_error(response) == (None if bare else "invalid_token")
    assert response.headers["Cache-Control"] == "no-store"


def replacement(info: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The client's metadata as it would send it back on update, with ``changes``."""
    server_side = ("client_secret", "registration_access_token")
    body = {k: v for k, v in info.items() if k not in server_side}
    return {k: v for k, v in (body | changes).items() if v is not None}


# -- read ----------------------------------------------------------------------------------
def test_read_returns_the_registration_without_secret_or_token(
    registrar: Registrar, web: dict[str, Any]
) -> None:
    response = registrar.read(web["client_id"], web["registration_access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    expected = {k: v for k, v in web.items() if k not in ("client_secret",)}
    del expected["registration_access_token"]
    assert response.json == expected
    assert response.json["registration_client_uri"] == f"{ISSUER}/register/{web['client_id']}"


def test_wrong_other_and_missing_tokens_are_refused_alike(
    registrar: Registrar, web: dict[str, Any], machine: dict[str, Any]
) -> None:
    client_id = web["client_id"]
    assert_denied(registrar.read(client_id, "not-the-token"))
    assert_denied(registrar.read(client_id, machine["registration_access_token"]))
    assert_denied(registrar.read(client_id, web["client_secret"]))
    assert_denied(registrar.read(client_id, None), bare=True)
    unknown = registrar.read("0" * 32, web["registration_access_token"])
    assert_denied(unknown)
    known = registrar.read(client_id, machine["registration_access_token"])
    assert unknown.json == known.json  # RFC 7592 §2: whether the client exists is not told


def test_clients_registered_by_the_operator_cannot_be_managed(
    registrar: Registrar, conf: RegisteredClient, web: dict[str, Any]
) -> None:
    for token in (conf.client_secret, web["registration_access_token"], ""):
        assert_denied(registrar.read(conf.client_id, token), bare=token == "")
        assert_denied(registrar.delete(conf.client_id, token), bare=token == "")


def test_every_method_needs_the_token(
    app: Flask, registrar: Registrar, web: dict[str, Any], machine: dict[str, Any]
) -> None:
    other = machine["registration_access_token"]
    assert_denied(registrar.replace(web["client_id"], other, replacement(web, client_name="X")))
    assert_denied(registrar.delete(web["client_id"], other))
    assert client_count(app) == 2
    still = registrar.read(web["client_id"], web["registration_access_token"]).json
    assert still is not None and still["client_name"] == WEB_APP["client_name"]


# -- replace (PUT) --------------------------------------------------------------------------
def test_update_replaces_the_metadata_and_the_client_follows_it(
    registrar: Registrar, oauth: OAuthActions, web: dict[str, Any], bob: Any
) -> None:
    token = web["registration_access_token"]
    body = replacement(
        web, client_name="Print shop 2", redirect_uris=["https://print.test/new"], scope=None
    )
    response = registrar.replace(web["client_id"], token, body)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    info = response.json
    assert info is not None
    assert info["client_name"] == "Print shop 2"
    assert info["redirect_uris"] == ["https://print.test/new"]
    assert info["scope"] == DEFAULT_CLIENT_SCOPE + " offline_access"  # omitted: back to default
    assert "client_secret" not in info and "registration_access_token" not in info
    assert registrar.read(web["client_id"], token).json == info
    # The old redirect URI is refused now, the new one works, and so does the old secret.
    client = RegisteredClient(web["client_id"], web["client_secret"], info)
    old = RegisteredClient(web["client_id"], web["client_secret"], web)
    refused, _ = oauth.authorize(old)
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert oauth.tokens_for(client, scope="openid")["access_token"]


def test_new_redirect_uris_end_silent_reauthorization_but_not_the_tokens(
    registrar: Registrar, oauth: OAuthActions, web: dict[str, Any], bob: Any
) -> None:
    """docs/security.md NA-02: remembered consent does not follow the client to a new host."""
    old = as_registered(web)
    tokens = oauth.tokens_for(old, scope="openid photos.read")
    silent, _ = oauth.authorize(old, scope="openid photos.read", prompt="none")
    assert "code" in query_of(silent.headers["Location"])
    body = replacement(web, redirect_uris=["https://attacker.test/cb"])
    moved = registrar.replace(web["client_id"], web["registration_access_token"], body)
    assert moved.status_code == 200, moved.json
    new = RegisteredClient(web["client_id"], web["client_secret"], moved.json or {})
    asked, _ = oauth.authorize(new, scope="openid photos.read", prompt="none", state="na-2")
    params = query_of(asked.headers["Location"])
    assert asked.headers["Location"].startswith("https://attacker.test/cb?")
    assert params["error"] == "consent_required" and params["state"] == "na-2"
    assert oauth.userinfo(tokens["access_token"]).status_code == 200  # tokens are not revoked
    assert oauth.approve(new, scope="openid photos.read").code  # consent page, then silent
    again, _ = oauth.authorize(new, scope="openid photos.read", prompt="none")
    assert "code" in query_of(again.headers["Location"])


def test_update_keeping_the_redirect_uris_keeps_remembered_consent(
    registrar: Registrar, oauth: OAuthActions, web: dict[str, Any], bob: Any
) -> None:
    client = as_registered(web)
    oauth.approve(client, scope="openid")
    body = replacement(web, client_name="Print shop renamed")
    assert (
        registrar.replace(web["client_id"], web["registration_access_token"], body).status_code
        == 200
    )
    silent, _ = oauth.authorize(client, scope="openid", prompt="none")
    assert "code" in query_of(silent.headers["Location"])


def test_update_drops_omitted_optional_fields(
    registrar: Registrar, machine: dict[str, Any]
) -> None:
    token = machine["registration_access_token"]
    body = replacement(machine, contacts=["ops@example.com"], client_uri="https://example.com")
    first = registrar.replace(machine["client_id"], token, body)
    assert first.status_code == 200, first.json
    assert first.json is not None and first.json["contacts"] == ["ops@example.com"]
    second = registrar.replace(machine["client_id"], token, replacement(machine))
    assert second.status_code == 200
    assert second.json is not None
    assert "contacts" not in second.json and "client_uri" not in second.json


def test_update_may_echo_the_current_secret(
    registrar: Registrar, oauth: OAuthActions, machine: dict[str, Any]
) -> None:
    body = replacement(machine, client_secret=machine["client_secret"], client_name="Renamed")
    response = registrar.replace(machine["client_id"], machine["registration_access_token"], body)
    assert response.status_code == 200
    token = oauth.token(as_registered(machine), grant_type="client_credentials")
    assert token.status_code == 200


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_id": None}, "invalid_client_metadata"),
        ({"client_id": "someone-else"}, "invalid_client_metadata"),
        ({"client_secret": "my own choice of secret"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "none"}, "invalid_client_metadata"),
        ({"redirect_uris": ["https://*.print.test/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": None}, "invalid_redirect_uri"),
        ({"scope": "admin"}, "invalid_client_metadata"),
        ({"client_name": None}, "invalid_client_metadata"),
        ({"software_statement": "a.b.c"}, "invalid_software_statement"),
    ],
)
def test_bad_updates_are_refused_and_change_nothing(
    registrar: Registrar, web: dict[str, Any], changes: dict[str, Any], error: str
) -> None:
    token = web["registration_access_token"]
    before = registrar.read(web["client_id"], token).json
    response = registrar.replace(web["client_id"], token, replacement(web, **changes))
    assert response.status_code == 400, response.json
    assert response.json is not None and response.json["error"] == error
    assert registrar.read(web["client_id"], token).json == before


def test_update_body_must_be_a_json_object(registrar: Registrar, web: dict[str, Any]) -> None:
    response = registrar.http.put(
        f"/register/{web['client_id']}",
        headers={"Authorization": f"Bearer {web['registration_access_token']}"},
        data="client_name=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_client_metadata"


# -- delete --------------------------------------------------------------------------------
def test_delete_removes_the_client_and_ends_its_tokens(
    app: Flask, registrar: Registrar, oauth: OAuthActions, web: dict[str, Any], bob: Any
) -> None:
    client = as_registered(web)
    tokens = oauth.tokens_for(client, scope="openid offline_access")
    assert oauth.userinfo(tokens["access_token"]).status_code == 200
    token = web["registration_access_token"]
    response = registrar.delete(web["client_id"], token)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert client_count(app) == 0
    assert oauth.userinfo(tokens["access_token"]).status_code == 401
    refresh = oauth.token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 401
    assert_denied(registrar.read(web["client_id"], token))
    assert_denied(registrar.delete(web["client_id"], token))


def test_management_calls_are_audited(
    app: Flask, registrar: Registrar, machine: dict[str, Any]
) -> None:
    token = machine["registration_access_token"]
    registrar.replace(machine["client_id"], token, replacement(machine, client_name="Renamed"))
    registrar.delete(machine["client_id"], token)
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.kind, AuditEvent.client_id).order_by(AuditEvent.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("client.registered", machine["client_id"]),
        ("client.changed", machine["client_id"]),
        ("client.deleted", machine["client_id"]),
    ]


def test_post_to_the_client_uri_is_not_allowed(registrar: Registrar, web: dict[str, Any]) -> None:
    response = registrar.http.post(f"/register/{web['client_id']}", json={})
    assert response.status_code == 405
    assert response.json is not None and response.json["error"] == "method_not_allowed"

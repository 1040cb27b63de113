"""/admin/audit: services record security events; admins filter them; no secrets inside."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import AuditEvent
from tests.helpers import AuthActions, csrf_token_from
from tests.oauth.helpers import OAuthActions, RegisteredClient


@pytest.fixture
def admin_client(app: Flask, users: Any) -> FlaskClient:
    users.create("root", admin=True)
    http = app.test_client()
    AuthActions(http).login("root")
    return http


def kinds(app: Flask) -> list[str]:
    with app.app_context():
        return [e.kind for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]


def test_sign_ins_consents_revocations_and_reuse_are_recorded(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any, auth: AuthActions
) -> None:
    AuthActions(app.test_client()).login("bob", "wrong password!")
    AuthActions(app.test_client()).login("nobody", "wrong password!")
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    oauth.http.post(
        f"/account/apps/{conf.client_id}/revoke",
        data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
    )
    recorded = kinds(app)
    for kind in ("client.registered", "user.created", "sign_in.failed", "sign_in.ok",
                 "consent.granted", "refresh_token.reused", "consent.revoked"):  # fmt: skip
        assert kind in recorded
    assert recorded.count("sign_in.failed") == 2


def test_events_never_hold_secrets_or_tokens(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    secrets_seen = [conf.client_secret, tokens["access_token"], tokens["refresh_token"],
                    "correct horse battery staple"]  # fmt: skip
    with app.app_context():
        text = " ".join(f"{e.kind} {e.detail} {e.client_id}" for e in db.session.query(AuditEvent))
    assert all(secret not in text for secret in secrets_seen if secret)


def test_admin_filters_by_kind_user_and_client(
    app: Flask, admin_client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.tokens_for(conf)
    page = admin_client.get("/admin/audit?kind=consent.granted&user=bob")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<code>consent.granted</code>" in html and "<code>sign_in.ok</code>" not in html
    by_client = admin_client.get(f"/admin/audit?client={conf.client_id}").get_data(as_text=True)
    assert "<code>client.registered</code>" in by_client
    assert "<code>sign_in.ok</code>" not in by_client
    nothing = admin_client.get("/admin/audit?user=nobody-at-all").get_data(as_text=True)
    assert "No events match." in nothing


@pytest.mark.parametrize("query", ["kind=<script>", "user=' OR 1=1--", "client=%00", "kind=x" * 50])
def test_hostile_filters_are_harmless(admin_client: FlaskClient, query: str) -> None:
    response = admin_client.get(f"/admin/audit?{query}")
    assert response.status_code == (400 if "%00" in query else 200)
    assert "<script>" not in response.get_data(as_text=True)


def test_audit_is_for_admins_only(client: FlaskClient, auth: AuthActions, bob: Any) -> None:
    assert client.get("/admin/audit").status_code == 302
    auth.login()
    assert client.get("/admin/audit").status_code == 403


def test_admin_actions_name_the_admin(app: Flask, admin_client: FlaskClient, users: Any) -> None:
    users.create("carol")
    page = admin_client.get("/admin/users").get_data(as_text=True)
    admin_client.post("/admin/users/carol/disable", data={"csrf_token": csrf_token_from(page)})
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(kind="user.disabled").one()
        assert event.actor_id is not None

"""Dynamic client registration (RFC 7591 §3) through POST /register, and initial access tokens.

Covers RFC 7591 §3.1 (JSON request), §3.2.1 (information response, 201, no-store, secret shown
once with client_secret_expires_at 0), §3.2.2 (invalid_redirect_uri, invalid_client_metadata,
invalid_software_statement); RFC 6750 §3 (the initial access token's 401 challenge); RFC 8414
§2 (registration_endpoint advertised exactly when enabled); REGISTRATION_MODE off/token/open,
single-use accounting of initial access tokens, and the per-address throttle.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, Client, RegistrationToken
from app.models.types import utcnow
from app.security import hash_token
from tests.oauth.helpers import OAuthActions, RegisteredClient
from tests.oauth.registration_helpers import (
    ISSUER,
    MACHINE,
    WEB_APP,
    Registrar,
    as_registered,
    challenge_error,
    client_count,
)

OAUTH_DOC = "/.well-known/oauth-authorization-server"
OIDC_DOC = "/.well-known/openid-configuration"


@pytest.fixture
def registrar(app: Flask, client: FlaskClient) -> Registrar:
    return Registrar(app, client)


open_mode = pytest.mark.limits(REGISTRATION_MODE="open")


def assert_refused_token(response: Any, bare: bool = False) -> None:
    """RFC 6750 §3: 401 invalid_token with a Bearer challenge (bare when no token was sent)."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_token"
    assert challenge_error(response) == (None if bare else "invalid_token")
    assert response.headers["Cache-Control"] == "no-store"


def assert_metadata_error(response: Any, error: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


# -- the information response and the registered client at work -----------------------------
@open_mode
def test_registered_machine_client_gets_tokens_with_the_secret_shown_once(
    app: Flask, registrar: Registrar, oauth: OAuthActions
) -> None:
    before = int(time.time())
    response = registrar.register(MACHINE)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    info = response.json
    assert info is not None
    assert before - 1 <= info["client_id_issued_at"] <= int(time.time()) + 1
    assert len(info["client_secret"]) >= 32
    assert info["client_secret_expires_at"] == 0
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    assert info["grant_types"] == ["client_credentials"]
    assert info["scope"] == "photos.read"
    assert len(info["registration_access_token"]) >= 32
    assert info["registration_client_uri"] == f"{ISSUER}/register/{info['client_id']}"
    machine = as_registered(info)
    token = oauth.token(machine, grant_type="client_credentials", scope="photos.read")
    assert token.status_code == 200, token.json
    assert token.json is not None and token.json["access_token"]
    with app.app_context():  # only digests at rest
        stored = db.session.get(Client, info["client_id"])
        assert stored is not None
        assert stored.client_secret_hash == hash_token(info["client_secret"])
        assert stored.registration_token_hash == hash_token(info["registration_access_token"])


@open_mode
def test_registered_web_app_runs_the_code_flow_only_at_its_redirect_uri(
    registrar: Registrar, oauth: OAuthActions, bob: Any
) -> None:
    web = as_registered(registrar.registered(WEB_APP))
    assert web.metadata["response_types"] == ["code"]
    elsewhere, _ = oauth.authorize(web, redirect_uri="https://evil.test/cb")
    assert elsewhere.status_code == 400
    assert "Location" not in elsewhere.headers
    tokens = oauth.tokens_for(web, scope="openid photos.read")
    assert tokens["access_token"] and tokens["id_token"]


@open_mode
def test_public_client_gets_no_secret_but_a_registration_access_token(
    registrar: Registrar,
) -> None:
    info = registrar.registered(
        WEB_APP | {"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}
    )
    assert "client_secret" not in info
    assert "client_secret_expires_at" not in info
    assert info["token_endpoint_auth_method"] == "none"
    assert info["registration_access_token"]


@open_mode
def test_a_registered_client_cannot_make_itself_a_resource_server(
    registrar: Registrar, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    """Introspecting another client's token answers inactive: dynamic clients are never RSs."""
    info = registrar.registered(
        MACHINE | {"is_resource_server": True, "resource_server": True, "client_id": "mine"}
    )
    assert info["client_id"] != "mine"
    other_token = oauth.token(cc, grant_type="client_credentials").json
    assert other_token is not None
    answer = oauth.introspect(as_registered(info), other_token["access_token"])
    assert answer.status_code == 200
    assert answer.json == {"active": False}


# -- modes and initial access tokens ------------------------------------------------------
def test_default_mode_needs_an_initial_access_token(app: Flask, registrar: Registrar) -> None:
    assert_refused_token(registrar.register(MACHINE), bare=True)
    assert_refused_token(registrar.register(MACHINE, "not-a-token"))
    assert client_count(app) == 0


def test_initial_access_token_registers_one_client_by_default(
    app: Flask, registrar: Registrar
) -> None:
    token = registrar.issue_token()
    assert registrar.register(MACHINE, token).status_code == 201
    assert_refused_token(registrar.register(MACHINE, token))
    assert client_count(app) == 1


def test_initial_access_token_with_max_uses_is_spent_one_registration_at_a_time(
    app: Flask, registrar: Registrar
) -> None:
    token = registrar.issue_token("--max-uses", "2")
    # A refused registration does not spend a use.
    bad = registrar.register(MACHINE | {"scope": "admin"}, token)
    assert_metadata_error(bad, "invalid_client_metadata")
    assert registrar.register(MACHINE, token).status_code == 201
    assert registrar.register(WEB_APP, token).status_code == 201
    assert_refused_token(registrar.register(MACHINE, token))
    assert client_count(app) == 2


def test_expired_initial_access_token_is_refused(app: Flask, registrar: Registrar) -> None:
    token = registrar.issue_token("--expires-in", "60", "--max-uses", "5")
    with app.app_context():
        db.session.execute(
            update(RegistrationToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert_refused_token(registrar.register(MACHINE, token))
    assert client_count(app) == 0


def test_bad_token_is_refused_before_the_body_is_read(registrar: Registrar) -> None:
    assert_refused_token(registrar.register(None, "nope", data="not json"))


@open_mode
def test_open_mode_needs_no_token(registrar: Registrar) -> None:
    assert registrar.register(MACHINE).status_code == 201


@pytest.mark.limits(REGISTRATION_MODE="off")
def test_off_mode_answers_404_everywhere(app: Flask, registrar: Registrar) -> None:
    token = registrar.issue_token()
    for response in (
        registrar.register(MACHINE, token),
        registrar.read("someone", token),
        registrar.replace("someone", token, MACHINE),
        registrar.delete("someone", token),
    ):
        assert response.status_code == 404
        assert response.json is not None and response.json["error"] == "not_found"
    assert client_count(app) == 0


# -- discovery -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "app_config", [{"REGISTRATION_MODE": "token"}, {"REGISTRATION_MODE": "open"}], indirect=True
)
@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_registration_endpoint_is_advertised_when_enabled(client: FlaskClient, path: str) -> None:
    doc = client.get(path).json
    assert doc is not None and doc["registration_endpoint"] == f"{ISSUER}/register"


@pytest.mark.limits(REGISTRATION_MODE="off")
@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_registration_endpoint_is_not_advertised_when_off(client: FlaskClient, path: str) -> None:
    doc = client.get(path).json
    assert doc is not None and "registration_endpoint" not in doc
    assert doc["token_endpoint"] == f"{ISSUER}/token"


# -- RFC 7591 §3.2.2 errors: the CLI's rules, nothing stored ----------------------------------
BAD_METADATA = [
    ({"redirect_uris": ["https://*.print.test/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://print.test/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://print.test/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": "https://print.test/cb"}, "invalid_client_metadata"),
    ({"grant_types": ["password"]}, "invalid_client_metadata"),
    ({"grant_types": ["implicit"], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"scope": "openid admin"}, "invalid_client_metadata"),
    ({"client_name": ""}, "invalid_client_metadata"),
    ({"client_name": None}, "invalid_client_metadata"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "invalid_client_metadata"),
    ({"logo_uri": "http://print.test/logo.png"}, "invalid_client_metadata"),
    ({"contacts": ["not an email"]}, "invalid_client_metadata"),
    ({"client_name": "Nul\x00name"}, "invalid_client_metadata"),
    ({"client_name": "Print\u202eshop"}, "invalid_client_metadata"),
    ({"client_name": "Print\u200bshop"}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://print.test/\u2066cb"]}, "invalid_client_metadata"),
    ({"client_uri": "https://print\ufeff.test/"}, "invalid_client_metadata"),
    ({"software_statement": "eyJhbGciOiJub25lIn0.e30."}, "invalid_software_statement"),
]


@open_mode
@pytest.mark.parametrize(("change", "error"), BAD_METADATA)
def test_bad_metadata_is_refused_with_the_rfc7591_error_and_nothing_is_stored(
    app: Flask, registrar: Registrar, change: dict[str, Any], error: str
) -> None:
    assert_metadata_error(registrar.register(WEB_APP | change), error)
    assert client_count(app) == 0


@open_mode
def test_software_statements_are_refused_cleanly(registrar: Registrar) -> None:
    response = registrar.register(MACHINE | {"software_statement": "a.b.c"})
    assert_metadata_error(response, "invalid_software_statement")
    assert response.json is not None
    assert response.json["error_description"] == "software statements are not accepted"


@open_mode
def test_the_cli_and_registration_refuse_a_wildcard_redirect_uri_alike(
    app: Flask, registrar: Registrar
) -> None:
    wildcard = "https://*.print.test/cb"
    cli = app.test_cli_runner().invoke(
        args=["clients", "create", "--name", "Print shop", "--redirect-uri", wildcard]
    )
    assert cli.exit_code != 0
    response = registrar.register(WEB_APP | {"redirect_uris": [wildcard]})
    assert response.json is not None
    assert cli.output.strip() == (
        f"Error: {response.json['error']}: {response.json['error_description']}"
    )
    assert client_count(app) == 0


@open_mode
@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "client_name=x", "content_type": "application/x-www-form-urlencoded"},
        {"data": json.dumps(MACHINE), "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": "[1, 2]", "content_type": "application/json"},
        {"data": '"a string"', "content_type": "application/json"},
        {"data": "null", "content_type": "application/json"},
        {"data": "[" * 20000 + "]" * 20000, "content_type": "application/json"},
    ],
    ids=["form", "text", "malformed", "array", "string", "null", "deep"],
)
def test_body_must_be_a_json_object(
    app: Flask, registrar: Registrar, kwargs: dict[str, Any]
) -> None:
    assert_metadata_error(registrar.register(None, **kwargs), "invalid_client_metadata")
    assert client_count(app) == 0


# -- throttle ------------------------------------------------------------------------------
@pytest.mark.limits(REGISTRATION_MODE="open", REGISTRATION_LIMIT_PER_IP="2 per minute")
def test_registrations_per_address_are_limited(registrar: Registrar) -> None:
    assert registrar.register(MACHINE).status_code == 201
    assert_metadata_error(registrar.register({}), "invalid_client_metadata")
    response = registrar.register(MACHINE)
    assert response.status_code == 429
    assert response.json is not None and response.json["error"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Cache-Control"] == "no-store"


# -- the operator's command ------------------------------------------------------------------
def test_issue_registration_token_prints_it_once_and_stores_a_digest(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["clients", "issue-registration-token", "--expires-in", "600", "--max-uses", "3"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["max_uses"] == 3
    assert abs(printed["expires_at"] - (time.time() + 600)) < 5
    token = printed["initial_access_token"]
    assert len(token) >= 32
    with app.app_context():
        rows = db.session.scalars(select(RegistrationToken)).all()
        assert [(r.token_hash, r.uses_left) for r in rows] == [(hash_token(token), 3)]
        kinds = db.session.scalars(select(AuditEvent.kind)).all()
        assert "registration_token.issued" in kinds
        details = db.session.scalars(select(AuditEvent.detail)).all()
        assert all(token not in detail for detail in details)


def test_issue_registration_token_defaults_to_one_use_for_a_day(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["clients", "issue-registration-token"])
    printed = json.loads(result.output)
    assert printed["max_uses"] == 1
    assert abs(printed["expires_at"] - (time.time() + 86400)) < 5


@pytest.mark.parametrize(
    "args", [["--max-uses", "0"], ["--expires-in", "0"], ["--expires-in", "-5"]]
)
def test_issue_registration_token_refuses_bad_numbers(app: Flask, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=["clients", "issue-registration-token", *args])
    assert result.exit_code != 0
    assert "Error:" in result.output
    with app.app_context():
        assert db.session.scalars(select(RegistrationToken)).all() == []


def test_dynamic_registration_is_audited(app: Flask, registrar: Registrar) -> None:
    info = registrar.registered(MACHINE, registrar.issue_token())
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "client.registered")
        ).one()
        assert event.client_id == info["client_id"]
        assert "dynamic registration" in event.detail


def test_tokens_purge_deletes_expired_and_spent_initial_access_tokens(
    app: Flask, registrar: Registrar
) -> None:
    expired = registrar.issue_token()
    spent = registrar.issue_token()
    valid = registrar.issue_token()
    assert registrar.register(MACHINE, spent).status_code == 201
    with app.app_context():
        db.session.execute(
            update(RegistrationToken)
            .where(RegistrationToken.token_hash == hash_token(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["tokens", "purge"])
    assert result.exit_code == 0, result.output
    assert "registration_tokens\t2" in result.output.splitlines()
    assert registrar.register(MACHINE, valid).status_code == 201


@open_mode
def test_the_consent_page_says_a_client_registered_itself(
    registrar: Registrar, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """Anyone may register in open mode, with any name: the user is told it is unchecked."""
    impostor = as_registered(registrar.registered(WEB_APP | {"client_name": "PhotoPrint"}))
    oauth.sign_in()
    page, _ = oauth.authorize(impostor, scope="openid photos.read")
    assert page.status_code == 200
    assert "This app registered itself with Tessera" in page.get_data(as_text=True)
    admin_registered, _ = oauth.authorize(conf, scope="openid photos.read")
    assert admin_registered.status_code == 200
    assert "registered itself" not in admin_registered.get_data(as_text=True)

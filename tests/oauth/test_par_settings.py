"""Pushed authorization requests as the operator sets them up: PAR required globally or per
client (RFC 9126 §5, §6), discovery (§5), the settings' validation, and purging old rows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import ConfigError
from app.models import PushedRequest
from app.models.types import utcnow
from tests.conftest import SECRET_KEY
from tests.live import flask_cli
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient, query_of
from tests.oauth.par_helpers import (
    assert_error_page,
    flow_result,
    follow,
    push,
    row_of,
    set_row,
)
from tests.oauth.test_tokens_purge import count, purge

ISSUER = "http://127.0.0.1:5000"
DOCS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
MUST_USE_PAR = "must use pushed authorization requests"


@pytest.fixture
def strict(clients: ClientFactory) -> RegisteredClient:
    """A client registered with require_pushed_authorization_requests (RFC 9126 §6)."""
    return clients.create(
        client_name="Strict app",
        redirect_uris=["https://strict.test/cb"],
        scope="openid photos.read",
        require_pushed_authorization_requests=True,
    )


# -- requiring PAR ------------------------------------------------------------------------------
def assert_must_use_par(response: Any, client: RegisteredClient, state: str) -> None:
    """§5: invalid_request back to the validated redirect_uri, with state and iss."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == "invalid_request"
    assert MUST_USE_PAR in params["error_description"]
    assert params["state"] == state and params["iss"] == ISSUER
    assert "code" not in params


@pytest.mark.limits(PAR_REQUIRED=True)
def test_with_par_required_a_plain_authorization_request_is_refused(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    response, _ = oauth.authorize(conf, state="s-plain")
    assert_must_use_par(response, conf, "s-plain")
    pushed = push(oauth, conf)
    assert flow_result(follow(oauth, conf, pushed), pushed).params.get("code")


@pytest.mark.limits(PAR_REQUIRED=True)
def test_with_par_required_prompt_none_still_gets_the_par_error(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _ = oauth.authorize(conf, state="s-silent", prompt="none")
    assert_must_use_par(response, conf, "s-silent")


@pytest.mark.limits(PAR_REQUIRED=True)
def test_with_par_required_an_unregistered_redirect_uri_is_never_redirected_to(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    response, _ = oauth.authorize(conf, redirect_uri="https://evil.test/cb")
    assert_error_page(response, "invalid_request")


def test_a_client_registered_with_require_par_must_push(
    oauth: OAuthActions, strict: RegisteredClient, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    response, _ = oauth.authorize(strict, scope="openid", state="s-strict")
    assert_must_use_par(response, strict, "s-strict")
    pushed = push(oauth, strict, scope="openid")
    assert flow_result(follow(oauth, strict, pushed), pushed).params.get("code")
    assert oauth.approve(conf).params.get("code")  # other clients are not affected


# -- discovery (§5) ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", DOCS)
def test_discovery_advertises_the_par_endpoint_but_not_the_requirement_by_default(
    client: FlaskClient, path: str
) -> None:
    doc = client.get(path).json
    assert doc["pushed_authorization_request_endpoint"] == f"{ISSUER}/par"
    assert "require_pushed_authorization_requests" not in doc


@pytest.mark.limits(PAR_REQUIRED=True)
@pytest.mark.parametrize("path", DOCS)
def test_discovery_announces_when_par_is_required(client: FlaskClient, path: str) -> None:
    doc = client.get(path).json
    assert doc["pushed_authorization_request_endpoint"] == f"{ISSUER}/par"
    assert doc["require_pushed_authorization_requests"] is True


@pytest.mark.limits(PAR_ENABLED=False)
@pytest.mark.parametrize("path", DOCS)
def test_discovery_is_silent_about_par_when_disabled(client: FlaskClient, path: str) -> None:
    doc = client.get(path).json
    assert "pushed_authorization_request_endpoint" not in doc
    assert "require_pushed_authorization_requests" not in doc


def test_oidc_request_uri_parameter_stays_false(client: FlaskClient) -> None:
    """OIDC's request_uri_parameter_supported is about request objects by reference."""
    assert client.get(DOCS[1]).json["request_uri_parameter_supported"] is False


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"PAR_REQUEST_TTL": 4}, "PAR_REQUEST_TTL"),
        ({"PAR_REQUEST_TTL": 601}, "PAR_REQUEST_TTL"),
        ({"PAR_REQUEST_TTL": "60"}, "PAR_REQUEST_TTL"),
        ({"PAR_REQUEST_TTL": True}, "PAR_REQUEST_TTL"),
        ({"PAR_ENABLED": "yes"}, "PAR_ENABLED"),
        ({"PAR_REQUIRED": 1}, "PAR_REQUIRED"),
        ({"PAR_ENABLED": False, "PAR_REQUIRED": True}, "PAR_REQUIRED"),
    ],
)
def test_invalid_par_settings_stop_the_start(
    settings: dict[str, Any], key: str, instance_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app({"SECRET_KEY": SECRET_KEY, "TESTING": True} | settings)
    assert caught.value.key == key


@pytest.mark.parametrize("ttl", [5, 600])
def test_par_request_ttl_bounds_are_accepted(ttl: int, instance_path: Path) -> None:
    app = create_app({"SECRET_KEY": SECRET_KEY, "TESTING": True, "PAR_REQUEST_TTL": ttl})
    assert app.config["PAR_REQUEST_TTL"] == ttl


# -- housekeeping -------------------------------------------------------------------------------
def test_purge_deletes_pushed_requests_past_their_interaction_window(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient
) -> None:
    old, recent, fresh = push(oauth, conf), push(oauth, conf), push(oauth, conf)
    now = utcnow()
    set_row(app, old.request_uri, expires_at=now - timedelta(minutes=11))
    set_row(app, recent.request_uri, expires_at=now - timedelta(minutes=9))  # may be in use
    assert purge(app)["pushed_authorization_requests"] == 1
    assert count(app, PushedRequest) == 2
    assert row_of(app, recent.request_uri) and row_of(app, fresh.request_uri)


# -- client metadata: require_pushed_authorization_requests (RFC 9126 §6) ----------------------
def test_metadata_keeps_the_flag_and_refuses_a_non_boolean(
    strict: RegisteredClient, clients: ClientFactory
) -> None:
    assert strict.metadata["require_pushed_authorization_requests"] is True
    from app.services.client_metadata import ClientMetadataError

    with pytest.raises(ClientMetadataError) as caught:
        clients.create(
            redirect_uris=["https://x.test/cb"], require_pushed_authorization_requests="maybe"
        )
    assert "require_pushed_authorization_requests" in caught.value.description


def test_cli_registers_a_client_that_must_use_par(cli_env: dict[str, str]) -> None:
    created = flask_cli(
        cli_env, "clients", "create", "--name", "Strict CLI", "--redirect-uri",
        "https://cli.test/cb", "--require-par",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["require_pushed_authorization_requests"] is True
    plain = flask_cli(
        cli_env, "clients", "create", "--name", "Plain", "--redirect-uri", "https://cli.test/cb"
    )
    assert "require_pushed_authorization_requests" not in json.loads(plain.stdout)

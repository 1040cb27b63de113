"""Client management through ``flask --app wsgi clients create|list|show|delete|rotate-secret``.

Covers RFC 7591 §3.2.1 (client information response: client_id, client_secret,
client_id_issued_at, client_secret_expires_at, registered metadata), RFC 6749 §2.3.1 and
§5.2 (invalid_client after secret rotation), RFC 7523 §2.2 (private_key_jwt clients);
docs/security.md CA-02 (secret shown once), RU-07 (positive side), client deletion ending tokens.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from joserfc.jwk import ECKey

from tests.live import flask_cli
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def create(app: Flask, *args: str) -> dict[str, Any]:
    result = cli(app, "clients", "create", *args)
    assert result.exit_code == 0, result.output
    info: dict[str, Any] = json.loads(result.output)
    return info


def listed(app: Flask) -> list[dict[str, Any]]:
    result = cli(app, "clients", "list", "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.output)
    return data


def registered(info: dict[str, Any], key: ECKey | None = None) -> RegisteredClient:
    return RegisteredClient(info["client_id"], info.get("client_secret"), info, key)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def api(clients: ClientFactory) -> RegisteredClient:
    """A resource server that may introspect every client's tokens."""
    return clients.create(
        client_name="Photo API", grant_types=["client_credentials"], scope="photos.read",
        resource_server=True,
    )  # fmt: skip


# -- create ------------------------------------------------------------------------------------
def test_create_prints_the_rfc7591_client_information_of_a_confidential_client(
    app: Flask, oauth: OAuthActions, bob: Any
) -> None:
    before = int(time.time())
    info = create(
        app, "--name", "Print shop", "--redirect-uri", "https://print.test/cb",
        "--grant-types", "authorization_code,refresh_token",
        "--scope", "openid profile offline_access", "--json",
    )  # fmt: skip
    assert isinstance(info["client_id"], str) and len(info["client_id"]) >= 16
    assert isinstance(info["client_secret"], str) and len(info["client_secret"]) >= 32
    assert before - 1 <= info["client_id_issued_at"] <= int(time.time()) + 1
    assert info["client_secret_expires_at"] == 0
    assert info["client_name"] == "Print shop"
    assert info["redirect_uris"] == ["https://print.test/cb"]
    assert info["grant_types"] == ["authorization_code", "refresh_token"]
    assert info["response_types"] == ["code"]
    assert info["scope"] == "openid profile offline_access"
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    # The printed credentials work.
    body = oauth.tokens_for(registered(info), scope="openid profile offline_access")
    assert oauth.userinfo(body["access_token"]).status_code == 200
    assert "refresh_token" in body


def test_create_public_client_prints_no_secret_and_works_with_pkce(
    app: Flask, oauth: OAuthActions, bob: Any
) -> None:
    info = create(
        app, "--name", "CLI tool", "--redirect-uri", "http://127.0.0.1/cb",
        "--token-endpoint-auth-method", "none", "--scope", "openid",
    )  # fmt: skip
    assert info["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in info
    assert "client_secret_expires_at" not in info
    body = oauth.tokens_for(registered(info), scope="openid")
    assert oauth.userinfo(body["access_token"]).status_code == 200


def test_create_private_key_jwt_client_from_a_jwks_file(
    app: Flask, oauth: OAuthActions, tmp_path: Path
) -> None:
    key = ECKey.generate_key("P-256", private=True)
    jwks_file = tmp_path / "client-jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False) | {"kid": "k1"}]}))
    info = create(
        app, "--name", "Signed batch", "--grant-types", "client_credentials",
        "--scope", "photos.read", "--token-endpoint-auth-method", "private_key_jwt",
        "--jwks", str(jwks_file),
    )  # fmt: skip
    assert "client_secret" not in info
    assert info["jwks"]["keys"][0]["kid"] == "k1"
    assert "d" not in info["jwks"]["keys"][0]
    key_with_kid = ECKey.import_key(key.as_dict(private=True) | {"kid": "k1"})
    response = oauth.token(
        registered(info, key_with_kid), grant_type="client_credentials", scope="photos.read"
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_create_private_key_jwt_client_with_a_jwks_uri(app: Flask) -> None:
    info = create(
        app, "--name", "Remote keys", "--grant-types", "client_credentials",
        "--scope", "photos.read", "--token-endpoint-auth-method", "private_key_jwt",
        "--jwks-uri", "https://keys.example.test/jwks.json",
    )  # fmt: skip
    assert info["jwks_uri"] == "https://keys.example.test/jwks.json"
    assert "jwks" not in info and "client_secret" not in info


# -- list / show: the secret was shown once ------------------------------------------------------
def test_list_and_show_describe_the_client_without_its_secret(app: Flask) -> None:
    info = create(app, "--name", "Shown once", "--redirect-uri", "https://once.test/cb")
    [entry] = listed(app)
    assert entry["client_id"] == info["client_id"]
    assert entry["client_name"] == "Shown once"
    assert entry["type"] == "confidential"
    shown = cli(app, "clients", "show", info["client_id"])
    assert shown.exit_code == 0, shown.output
    details = json.loads(shown.output)
    assert details["client_id"] == info["client_id"]
    assert details["redirect_uris"] == ["https://once.test/cb"]
    for output in (shown.output, cli(app, "clients", "list", "--json").output):
        assert 'client_secret"' not in output.replace("client_secret_expires_at", "")
        assert info["client_secret"] not in output


@pytest.mark.parametrize("command", ["show", "delete", "rotate-secret"])
@pytest.mark.parametrize("client_id", ["no-such-client", "' OR 1=1--"])
def test_commands_on_an_unknown_client_exit_non_zero(
    app: Flask, command: str, client_id: str
) -> None:
    result = cli(app, "clients", command, client_id)
    assert result.exit_code != 0
    assert result.output.startswith("Error: invalid_client: "), result.output
    assert result.output.strip().count("\n") == 0


# -- delete ------------------------------------------------------------------------------------
def test_deleting_a_client_ends_its_tokens(
    app: Flask, oauth: OAuthActions, api: RegisteredClient, bob: Any
) -> None:
    info = create(
        app, "--name", "Doomed", "--redirect-uri", "https://doomed.test/cb",
        "--grant-types", "authorization_code,refresh_token",
        "--scope", "openid profile offline_access",
    )  # fmt: skip
    doomed = registered(info)
    body = oauth.tokens_for(doomed, scope="openid profile offline_access")
    assert oauth.userinfo(body["access_token"]).status_code == 200

    result = cli(app, "clients", "delete", doomed.client_id)
    assert result.exit_code == 0, result.output

    response = oauth.userinfo(body["access_token"])
    assert response.status_code == 401
    assert response.json is not None and response.json["error"] == "invalid_token"
    assert oauth.introspect(api, body["access_token"]).json == {"active": False}
    assert oauth.introspect(api, body["refresh_token"]).json == {"active": False}
    refresh = oauth.token(doomed, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refresh.status_code == 401
    assert refresh.json is not None and refresh.json["error"] == "invalid_client"
    assert cli(app, "clients", "show", doomed.client_id).exit_code != 0
    assert [c for c in listed(app) if c["client_id"] == doomed.client_id] == []


# -- rotate-secret -----------------------------------------------------------------------------
def test_rotating_the_secret_prints_a_new_one_and_the_old_one_stops_working(
    app: Flask, oauth: OAuthActions
) -> None:
    info = create(
        app, "--name", "Nightly", "--grant-types", "client_credentials", "--scope", "photos.read"
    )
    client_id, old_secret = info["client_id"], info["client_secret"]
    form = {"grant_type": "client_credentials", "scope": "photos.read"}
    assert (
        oauth.http.post("/token", data=form, headers=basic(client_id, old_secret)).status_code
        == 200
    )

    result = cli(app, "clients", "rotate-secret", client_id)
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.output)
    assert rotated["client_id"] == client_id
    new_secret = rotated["client_secret"]
    assert isinstance(new_secret, str) and len(new_secret) >= 32 and new_secret != old_secret

    old = oauth.http.post("/token", data=form, headers=basic(client_id, old_secret))
    assert old.status_code == 401
    assert old.json is not None and old.json["error"] == "invalid_client"
    assert "access_token" not in old.json
    new = oauth.http.post("/token", data=form, headers=basic(client_id, new_secret))
    assert new.status_code == 200, new.get_data(as_text=True)
    assert new.json is not None and "access_token" in new.json
    assert new_secret not in cli(app, "clients", "show", client_id).output


@pytest.mark.parametrize("method", ["none", "private_key_jwt"])
def test_rotate_secret_refuses_a_client_without_a_secret(
    app: Flask, clients: ClientFactory, method: str
) -> None:
    key = ECKey.generate_key("P-256", private=True) if method == "private_key_jwt" else None
    client = clients.create(
        private_key=key,
        client_name="No secret",
        redirect_uris=["http://127.0.0.1/cb"],
        token_endpoint_auth_method=method,
        scope="openid",
    )
    result = cli(app, "clients", "rotate-secret", client.client_id)
    assert result.exit_code != 0
    assert result.output.startswith("Error: invalid_client: ")
    assert "client_secret" not in result.output


# -- the real command line ---------------------------------------------------------------------
def test_flask_clients_create_in_a_subprocess_registers_a_working_client(
    app: Flask, cli_env: dict[str, str], oauth: OAuthActions
) -> None:
    completed = flask_cli(
        cli_env, "clients", "create", "--name", "Subprocess job",
        "--grant-types", "client_credentials", "--scope", "photos.read", "--json",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    info = json.loads(completed.stdout)
    assert info["client_name"] == "Subprocess job"
    assert info["client_secret_expires_at"] == 0
    assert [c["client_id"] for c in listed(app)] == [info["client_id"]]
    form = {"grant_type": "client_credentials", "scope": "photos.read"}
    response = oauth.http.post(
        "/token", data=form, headers=basic(info["client_id"], info["client_secret"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)


# -- IN-01: a resource server's audiences --------------------------------------------------------
@pytest.mark.limits(OAUTH_EXTRA_RESOURCES=["https://print.example/api"])
def test_create_a_resource_server_for_an_audience(app: Flask) -> None:
    from app.extensions import db
    from app.models import Client

    info = create(
        app, "--name", "Print API", "--grant-types", "client_credentials", "--resource-server",
        "--audience", "https://print.example/api",
    )  # fmt: skip
    with app.app_context():
        client = db.session.get(Client, info["client_id"])
        assert client is not None and client.resource_audiences == ["https://print.example/api"]
    unknown = cli(
        app, "clients", "create", "--name", "Rogue", "--grant-types", "client_credentials",
        "--resource-server", "--audience", "https://elsewhere.example/",
    )  # fmt: skip
    assert unknown.exit_code != 0 and "unknown resource" in unknown.output
    without_flag = cli(
        app, "clients", "create", "--name", "Rogue", "--grant-types", "client_credentials",
        "--audience", "https://print.example/api",
    )  # fmt: skip
    assert without_flag.exit_code != 0 and "resource servers only" in without_flag.output

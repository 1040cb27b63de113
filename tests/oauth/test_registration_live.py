"""Dynamic registration against Tessera under gunicorn (2 workers), as a real client does it:
the operator issues an initial access token with the CLI, the client registers over HTTP
(requests), gets tokens with authlib's OAuth2Session, then reads, updates and deletes itself.
An initial access token's uses hold when registrations race across workers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.live import LiveServer, flask_cli
from tests.oauth.registration_helpers import MACHINE, WEB_APP

pytestmark = pytest.mark.live


def issue_token(cli_env: dict[str, str], *args: str) -> str:
    result = flask_cli(cli_env, "clients", "issue-registration-token", *args)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["initial_access_token"])


def register(url: str, token: str, metadata: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{url}/register", json=metadata, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_client_registers_gets_tokens_and_manages_itself(
    live_server: LiveServer, cli_env: dict[str, str]
) -> None:
    url = live_server.url
    discovery = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert discovery["registration_endpoint"] == f"{url}/register"

    response = register(discovery["registration_endpoint"].removesuffix("/register"),
                        issue_token(cli_env), MACHINE)  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    info = response.json()
    assert info["registration_client_uri"] == f"{url}/register/{info['client_id']}"

    session = OAuth2Session(info["client_id"], info["client_secret"], scope="photos.read")
    token = session.fetch_token(f"{url}/token", grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["access_token"]

    manage = requests.Session()
    manage.headers["Authorization"] = f"Bearer {info['registration_access_token']}"
    read = manage.get(info["registration_client_uri"], timeout=10)
    assert read.status_code == 200
    assert read.json()["client_name"] == MACHINE["client_name"]
    assert "client_secret" not in read.json()

    body = {k: v for k, v in read.json().items() if k != "registration_client_uri"}
    updated = manage.put(
        info["registration_client_uri"], json=body | {"client_name": "Renamed"}, timeout=10
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_name"] == "Renamed"

    assert manage.delete(info["registration_client_uri"], timeout=10).status_code == 204
    gone = manage.get(info["registration_client_uri"], timeout=10)
    assert gone.status_code == 401
    assert gone.json()["error"] == "invalid_token"
    assert gone.headers["WWW-Authenticate"].startswith("Bearer ")
    again = requests.post(
        f"{url}/token", data={"grant_type": "client_credentials"},
        auth=(info["client_id"], info["client_secret"]), timeout=10,
    )  # fmt: skip
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"


def test_a_registered_web_app_is_held_to_its_redirect_uri(
    live_server: LiveServer, cli_env: dict[str, str]
) -> None:
    url = live_server.url
    info = register(url, issue_token(cli_env), WEB_APP).json()
    session = OAuth2Session(
        info["client_id"], info["client_secret"], scope="openid photos.read",
        code_challenge_method="S256",
    )  # fmt: skip
    verifier = "v" * 64
    for redirect_uri, allowed in (("https://print.test/cb", True), ("https://evil.test/cb", False)):
        session.redirect_uri = redirect_uri
        authorize_url, _ = session.create_authorization_url(
            f"{url}/authorize", code_verifier=verifier
        )
        answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
        if allowed:  # accepted: the person is sent to sign in first
            assert answer.status_code == 302
            assert answer.headers["Location"].startswith("/login")
        else:
            assert answer.status_code == 400
            assert "Location" not in answer.headers


def test_racing_registrations_spend_exactly_the_tokens_uses(
    live_server: LiveServer, cli_env: dict[str, str]
) -> None:
    token = issue_token(cli_env, "--max-uses", "3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: register(live_server.url, token, MACHINE).status_code, range(8))
        )
    assert sorted(statuses) == [201] * 3 + [401] * 5, live_server.log()

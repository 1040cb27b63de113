"""Request logs under gunicorn, JSON format, as ``make run LOG_FORMAT=json`` writes them.

A full flow for two confidential clients, one with client_secret_basic and one with
client_secret_post: password sign-in, consent, the authorization code with PKCE, the token,
userinfo, the photo listing, a refresh, introspection and revocation. Then the whole server
log (stdout and stderr) is searched for every secret value the flow used, and every request
the test made must have exactly one JSON line whose request_id is the ``X-Request-ID`` its
response carried.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import CONSENT_TICKET, ClientFactory, RegisteredClient, pkce_pair, query_of

pytestmark = pytest.mark.live

TIMEOUT = 10
SCOPE = "openid profile offline_access photos.read"


@dataclass
class Recorder:
    """Every response the test's sessions got (redirects included), and the secrets used."""

    responses: list[requests.Response] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self.record)
        return session

    def record(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self.responses.append(response)

    def secret(self, name: str, value: str | None) -> str:
        assert value, f"no {name}"
        self.secrets[name] = value
        return value


@pytest.fixture
def server(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    settings = live_settings(app_config, instance_path) | {"FLASK_LOG_FORMAT": "json"}
    live = LiveServer(settings, tmp_path / "gunicorn.log").start()  # no access log: make run's
    yield live
    live.stop()


class Flow:
    """One client's whole story against the live server, recording what it sends."""

    def __init__(self, base: str, client: RegisteredClient, rec: Recorder) -> None:
        self.base, self.client, self.rec = base, client, rec
        self.backend = rec.session()
        name = client.auth_method
        secret = rec.secret(f"{name} client_secret", client.client_secret)
        if name == "client_secret_basic":
            raw = f"{client.client_id}:{secret}".encode()
            header = rec.secret("Basic header", "Basic " + base64.b64encode(raw).decode())
            self.backend.headers["Authorization"] = header
            self.auth_form: dict[str, str] = {}
        else:
            self.auth_form = {"client_id": client.client_id, "client_secret": secret}

    def authorize(self, browser: requests.Session) -> tuple[str, str]:
        """Sign in if asked, allow on the consent page; (code, verifier)."""
        verifier, challenge = pkce_pair()
        query = {
            "response_type": "code", "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri, "scope": SCOPE, "state": "st-log",
            "code_challenge": challenge, "code_challenge_method": "S256",
        }  # fmt: skip
        authorize = f"{self.base}/authorize?" + urlencode(query)
        page = browser.get(authorize, timeout=TIMEOUT)
        if "/login?next=" in page.url:
            form = {
                "username": "bob", "password": self.rec.secret("password", DEFAULT_PASSWORD),
                "csrf_token": csrf_token_from(page.text),
            }  # fmt: skip
            page = browser.post(page.url, data=form, timeout=TIMEOUT)
        self.rec.secret("session cookie", browser.cookies.get("tessera"))
        ticket = CONSENT_TICKET.search(page.text)
        assert ticket, page.text[:300]
        decision = {
            "csrf_token": self.rec.secret("csrf token", csrf_token_from(page.text)),
            "consent_ticket": self.rec.secret("consent ticket", ticket.group(1)),
            "decision": "allow", "granted_scope": SCOPE.split(),
        }  # fmt: skip
        answer = browser.post(
            authorize, data=decision, headers={"Referer": authorize}, allow_redirects=False,
            timeout=TIMEOUT,
        )  # fmt: skip
        assert answer.status_code == 303, answer.text[:300]
        code = query_of(answer.headers["Location"])["code"]
        name = self.client.auth_method
        return self.rec.secret(f"{name} code", code), self.rec.secret(f"{name} verifier", verifier)

    def post(self, path: str, **form: str) -> dict[str, Any]:
        url, data = f"{self.base}{path}", self.auth_form | form
        answer = self.backend.post(url, data=data, timeout=TIMEOUT)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json() if answer.content else {}

    def bearer(self, path: str, token: str) -> requests.Response:
        header = self.rec.secret(f"Bearer header {path} {token[-8:]}", f"Bearer {token}")
        answer = self.rec.session().get(
            f"{self.base}{path}", headers={"Authorization": header}, timeout=TIMEOUT
        )
        assert answer.status_code == 200, (path, answer.text)
        return answer

    def run(self, browser: requests.Session) -> None:
        name = self.client.auth_method
        code, verifier = self.authorize(browser)
        tokens = self.post(
            "/token", grant_type="authorization_code", code=code,
            redirect_uri=self.client.redirect_uri, code_verifier=verifier,
        )  # fmt: skip
        for kind in ("access_token", "refresh_token", "id_token"):
            self.rec.secret(f"{name} {kind}", tokens[kind])
        self.bearer("/userinfo", tokens["access_token"])
        self.bearer("/api/v1/photos", tokens["access_token"])
        refresh = tokens["refresh_token"]
        fresh = self.post("/token", grant_type="refresh_token", refresh_token=refresh)
        self.rec.secret(f"{name} refreshed access_token", fresh["access_token"])
        self.rec.secret(f"{name} refreshed refresh_token", fresh["refresh_token"])
        assert self.post("/introspect", token=fresh["access_token"])["active"] is True
        self.post("/revoke", token=fresh["refresh_token"], token_type_hint="refresh_token")


def test_a_full_flow_logs_one_json_line_per_request_and_no_secret(
    server: LiveServer, conf: RegisteredClient, clients: ClientFactory, bob: Any
) -> None:
    poster = clients.create(
        client_name="Poster", redirect_uris=["https://poster.test/cb"],
        grant_types=["authorization_code", "refresh_token"], scope=SCOPE,
        token_endpoint_auth_method="client_secret_post",
    )  # fmt: skip
    rec = Recorder()
    browser = rec.session()
    Flow(server.url, conf, rec).run(browser)
    Flow(server.url, poster, rec).run(browser)
    traced = rec.session().get(f"{server.url}/healthz", headers={"X-Request-ID": "trace-42"})
    assert traced.headers["X-Request-ID"] == "trace-42"
    refused = rec.session().post(
        f"{server.url}/token", data={"grant_type": "client_credentials"},
        auth=(conf.client_id, "a-wrong-secret-value"),
    )  # fmt: skip
    assert refused.status_code == 401
    rec.secrets["wrong secret"] = "a-wrong-secret-value"

    server.stop()  # every worker has written its lines
    log = server.log()
    leaked = [name for name, value in rec.secrets.items() if value.lower() in log.lower()]
    assert not leaked, f"{leaked} in the log:\n{log}"

    lines = [json.loads(text) for text in log.splitlines() if text.startswith("{")]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_id.setdefault(line["request_id"], []).append(line)
    assert len(rec.responses) >= 20
    for response in rec.responses:
        request_id = response.headers["X-Request-ID"]
        found = by_id.get(request_id, [])
        assert len(found) == 1, (response.request.method, response.url, found)
        assert found[0]["status"] == response.status_code
        assert found[0]["method"] == response.request.method
    token_lines = [line for line in lines if line["route"] == "/token"]
    assert {line.get("client_id") for line in token_lines} == {
        conf.client_id,
        poster.client_id,
        None,  # the refused one authenticated nobody
    }
    assert {line["sub"] for line in lines if line["route"] == "/api/v1/photos"} == {str(bob.id)}
    assert by_id["trace-42"][0]["route"] == "/healthz"

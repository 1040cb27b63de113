"""Pushed authorization requests under gunicorn (2 workers, shared database): PAR required
from the environment, and a request_uri yields one code however many consents race."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import CONSENT_TICKET, RegisteredClient, pkce_pair, query_of
from tests.oauth.par_helpers import code_count

pytestmark = pytest.mark.live
RACERS = 4
GRANTED = re.compile(r'name="granted_scope" value="([^"]+)"')


@pytest.fixture
def strict_server(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    """gunicorn with FLASK_PAR_REQUIRED=true, as an operator would set it."""
    settings = live_settings(app_config, instance_path) | {"FLASK_PAR_REQUIRED": "true"}
    server = LiveServer(settings, tmp_path / "gunicorn.log")
    server.start()
    yield server
    server.stop()


def sign_in(session: requests.Session, base: str) -> None:
    token = csrf_token_from(session.get(f"{base}/login", timeout=30).text)
    form = {"username": "bob", "password": DEFAULT_PASSWORD, "csrf_token": token}
    response = session.post(f"{base}/login", data=form, allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text[:300]


def test_concurrent_consents_on_one_request_uri_yield_one_code(
    app: Flask, strict_server: LiveServer, conf: RegisteredClient, bob: Any
) -> None:
    base = strict_server.url
    assert requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=30).json()[
        "require_pushed_authorization_requests"
    ]
    _, challenge = pkce_pair()
    query = {
        "response_type": "code", "client_id": conf.client_id, "redirect_uri": conf.redirect_uri,
        "scope": "openid photos.read", "state": "st-race", "code_challenge": challenge,
        "code_challenge_method": "S256",
    }  # fmt: skip
    auth = (conf.client_id, conf.client_secret or "")
    plain = requests.get(f"{base}/authorize?" + urlencode(query), allow_redirects=False, timeout=30)
    assert query_of(plain.headers["Location"])["error"] == "invalid_request"

    pushed = requests.post(f"{base}/par", auth=auth, data=query, timeout=30)
    assert pushed.status_code == 201, pushed.text
    path = f"{base}/authorize?" + urlencode(
        {"client_id": conf.client_id, "request_uri": pushed.json()["request_uri"]}
    )
    session = requests.Session()
    sign_in(session, base)
    forms = []
    for _ in range(RACERS):  # one consent page per tab, each with its own ticket
        html = session.get(path, allow_redirects=False, timeout=30).text
        match = CONSENT_TICKET.search(html)
        assert match, html[:300]
        forms.append({
            "csrf_token": csrf_token_from(html), "consent_ticket": match.group(1),
            "decision": "allow", "granted_scope": GRANTED.findall(html),
        })  # fmt: skip
    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def decide(form: dict[str, Any]) -> None:
        with requests.Session() as tab:
            tab.cookies.update(session.cookies)
            barrier.wait(timeout=10)
            response = tab.post(path, data=form, allow_redirects=False, timeout=30)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=decide, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [303] + [400] * (RACERS - 1), strict_server.log()[-2000:]
    assert code_count(app) == 1

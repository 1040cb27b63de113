"""Two tabs approving the same client for the first time at the same instant, under gunicorn
(2 workers, one database): both get their code and one consent is remembered, never a 500."""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Consent
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.live import LiveServer
from tests.oauth.helpers import CONSENT_TICKET, RegisteredClient, pkce_pair, query_of

pytestmark = pytest.mark.live
TABS = 6
ROUNDS = 5  # the race window is small: a few rounds make a lost race near certain
GRANTED = re.compile(r'name="granted_scope" value="([^"]+)"')


def test_first_consents_racing_in_two_workers_all_succeed(
    app: Flask, live_server: LiveServer, conf: RegisteredClient, bob: Any
) -> None:
    for _ in range(ROUNDS):
        race_first_consents(app, live_server, conf)
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Consent)) == 1
            db.session.execute(delete(Consent))
            db.session.commit()


def race_first_consents(app: Flask, live_server: LiveServer, conf: RegisteredClient) -> None:
    base = live_server.url
    session = requests.Session()
    token = csrf_token_from(session.get(f"{base}/login", timeout=30).text)
    signed_in = session.post(
        f"{base}/login",
        data={"username": "bob", "password": DEFAULT_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 303
    tabs = []
    for tab in range(TABS):  # each tab its own authorization request and consent page
        _, challenge = pkce_pair()
        path = f"{base}/authorize?" + urlencode({
            "response_type": "code", "client_id": conf.client_id,
            "redirect_uri": conf.redirect_uri, "scope": "openid photos.read",
            "state": f"tab-{tab}", "code_challenge": challenge, "code_challenge_method": "S256",
        })  # fmt: skip
        html = session.get(path, allow_redirects=False, timeout=30).text
        ticket = CONSENT_TICKET.search(html)
        assert ticket, html[:300]
        form = {
            "csrf_token": csrf_token_from(html), "consent_ticket": ticket.group(1),
            "decision": "allow", "granted_scope": GRANTED.findall(html),
        }  # fmt: skip
        tabs.append((path, form))
    barrier = threading.Barrier(TABS)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def approve(path: str, form: dict[str, Any]) -> None:
        with requests.Session() as browser_tab:
            browser_tab.cookies.update(session.cookies)
            barrier.wait(timeout=10)
            response = browser_tab.post(path, data=form, allow_redirects=False, timeout=30)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=approve, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in answers] == [303] * TABS, live_server.log()[-2000:]
    states = sorted(query_of(answer.headers["Location"])["state"] for answer in answers)
    assert states == [f"tab-{tab}" for tab in range(TABS)]
    assert all("code" in query_of(answer.headers["Location"]) for answer in answers)

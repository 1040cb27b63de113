"""RFC 8628 against Tessera under gunicorn (2 workers): a real device client polls over HTTP
while a person approves in another HTTP session; polls and redemptions that race across
workers still obey the interval and single redemption (§3.5, §3.4)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from
from tests.live import LiveServer
from tests.oauth.device_helpers import PollingDevice, register_device_client
from tests.oauth.helpers import CONSENT_TICKET, ClientFactory, RegisteredClient

pytestmark = pytest.mark.live


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"DEVICE_POLL_INTERVAL": 1}


@pytest.fixture
def tv(clients: ClientFactory) -> RegisteredClient:
    return register_device_client(clients)


def approve_over_http(base_url: str, user_code: str, decision: str = "allow") -> str:
    """The person: type the code, sign in when asked, answer the consent page; returns the
    final page."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/device", timeout=10).text
    form = {"user_code": user_code.lower(), "csrf_token": csrf_token_from(page)}
    response = browser.post(f"{base_url}/device", data=form, timeout=10)
    assert "/login" in response.url  # redirected to sign in, then back to /device
    sign_in = {"username": "bob", "password": DEFAULT_PASSWORD}
    sign_in["csrf_token"] = csrf_token_from(response.text)
    back = browser.post(response.url, data=sign_in, timeout=10)
    assert back.url.startswith(f"{base_url}/device?user_code="), back.url
    assert f'value="{user_code}"' in back.text
    form = {"user_code": user_code, "csrf_token": csrf_token_from(back.text)}
    consent = browser.post(f"{base_url}/device", data=form, timeout=10)
    assert consent.status_code == 200 and user_code in consent.text
    ticket = CONSENT_TICKET.search(consent.text)
    assert ticket
    decide = {
        "csrf_token": csrf_token_from(consent.text),
        "consent_ticket": ticket.group(1),
        "user_code": user_code,
        "decision": decision,
        "granted_scope": re.findall(r'name="granted_scope" value="([^"]+)"', consent.text),
    }
    done = browser.post(f"{base_url}/device/decide", data=decide, timeout=10)
    assert done.status_code == 200 and done.url == f"{base_url}/device/done", done.text
    return done.text


def test_a_device_polls_over_http_until_the_person_approves(
    live_server: LiveServer, tv: RegisteredClient, bob: Any
) -> None:
    device = PollingDevice(live_server.url, tv.client_id)
    grant = device.start("openid profile offline_access photos.read")
    assert grant["verification_uri"] == f"{live_server.url}/device"
    assert device.poll_once().json()["error"] == "authorization_pending"

    outcome: dict[str, requests.Response] = {}
    poller = threading.Thread(target=lambda: outcome.update(done=device.poll_until_done()))
    poller.start()
    page = approve_over_http(live_server.url, grant["user_code"])
    assert "You can return to your device" in page
    poller.join(timeout=40)

    response = outcome["done"]
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()
    assert {"access_token", "refresh_token"} <= set(token)
    assert "slow_down" not in device.polls  # a device keeping to the interval is never slowed
    me = requests.get(
        f"{live_server.url}/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200 and me.json()["preferred_username"] == "bob"
    assert device.poll_once().json()["error"] == "invalid_grant"


def race(count: int, call: Any) -> list[requests.Response]:
    barrier = threading.Barrier(count)

    def one(_: int) -> requests.Response:
        barrier.wait(timeout=10)
        return call()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_polls_arriving_together_pass_the_interval_once(
    live_server: LiveServer, tv: RegisteredClient
) -> None:
    device = PollingDevice(live_server.url, tv.client_id)
    device.start("openid")
    answers = sorted(r.json()["error"] for r in race(4, device.poll_once))
    assert answers == ["authorization_pending", "slow_down", "slow_down", "slow_down"]


def test_redemptions_racing_across_workers_issue_tokens_once(
    live_server: LiveServer, tv: RegisteredClient, bob: Any
) -> None:
    device = PollingDevice(live_server.url, tv.client_id)
    grant = device.start("openid photos.read")
    approve_over_http(live_server.url, grant["user_code"])
    answers = race(4, device.poll_once)
    assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]
    assert sorted(device.polls) == ["invalid_grant"] * 3 + ["tokens"]

"""Helpers that play the device and the person of RFC 8628 against the test app."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import requests
from flask import Flask
from sqlalchemy import update
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import DeviceCode
from app.models.types import utcnow
from app.security import hash_token
from tests.helpers import csrf_token_from
from tests.oauth.helpers import CONSENT_TICKET, ClientFactory, OAuthActions, RegisteredClient

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
DEVICE_SCOPES = "openid profile offline_access photos.read"


def register_device_client(clients: ClientFactory, **metadata: Any) -> RegisteredClient:
    """A TV app: public, device_code (+ refresh_token), no redirect URIs."""
    fields: dict[str, Any] = {
        "client_name": "Photo Frame",
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": DEVICE_SCOPES,
    }
    return clients.create(**(fields | metadata))


class DeviceActions:
    """The device (device authorization, polling) and the person (the /device pages)."""

    def __init__(self, oauth: OAuthActions, app: Flask) -> None:
        self.oauth = oauth
        self.http = oauth.http
        self.app = app

    # -- the device -------------------------------------------------------------
    def authorize(self, client: RegisteredClient, **form: Any) -> TestResponse:
        """POST /device_authorization, form-encoded even when the form is empty."""
        headers, auth_form = self.oauth.auth(client)
        data = auth_form | {k: v for k, v in form.items() if v is not None}
        return self.http.post(
            "/device_authorization", data=data, headers=headers,
            content_type="application/x-www-form-urlencoded",
        )  # fmt: skip

    def start(self, client: RegisteredClient, **form: Any) -> dict[str, Any]:
        response = self.authorize(client, **form)
        assert response.status_code == 200, response.get_data(as_text=True)
        data: dict[str, Any] = response.json  # type: ignore[assignment]
        return data

    def poll(self, client: RegisteredClient, device_code: str, **form: Any) -> TestResponse:
        return self.oauth.token(client, grant_type=DEVICE_GRANT, device_code=device_code, **form)

    def wait_interval(self, device_code: str, seconds: int = 60) -> None:
        """Move the last poll back in time, as if the device had waited its interval."""
        with self.app.app_context():
            db.session.execute(
                update(DeviceCode)
                .where(DeviceCode.device_code_hash == hash_token(device_code))
                .values(last_polled_at=utcnow() - timedelta(seconds=seconds))
            )
            db.session.commit()

    def expire(self, device_code: str) -> None:
        with self.app.app_context():
            db.session.execute(
                update(DeviceCode)
                .where(DeviceCode.device_code_hash == hash_token(device_code))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            db.session.commit()

    # -- the person -------------------------------------------------------------
    def enter(self, user_code: str) -> TestResponse:
        token = csrf_token_from(self.http.get("/device").get_data(as_text=True))
        return self.http.post("/device", data={"user_code": user_code, "csrf_token": token})

    def consent_page(self, user_code: str, username: str = "bob") -> TestResponse:
        """Type the code, sign in when asked, and return the consent page."""
        response = self.enter(user_code)
        if response.status_code == 303 and response.headers["Location"].startswith("/login"):
            self.oauth.sign_in(username)
            response = self.enter(user_code)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response

    def decide(
        self, page: TestResponse | str, decision: str = "allow", granted: list[str] | None = None
    ) -> TestResponse:
        """Submit a consent page's form (a response, or its HTML) with ``decision``."""
        html = page if isinstance(page, str) else page.get_data(as_text=True)
        ticket = CONSENT_TICKET.search(html)
        user_code = re.search(r'name="user_code" value="([^"]+)"', html)
        assert ticket and user_code, "not a device consent page"
        form: dict[str, Any] = {
            "csrf_token": csrf_token_from(html),
            "consent_ticket": ticket.group(1),
            "user_code": user_code.group(1),
            "decision": decision,
            "granted_scope": (
                granted
                if granted is not None
                else re.findall(r'name="granted_scope" value="([^"]+)"', html)
            ),
        }
        return self.http.post("/device/decide", data=form)

    def approve(
        self, user_code: str, decision: str = "allow", username: str = "bob", **kw: Any
    ) -> TestResponse:
        response = self.decide(self.consent_page(user_code, username), decision, **kw)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        assert response.headers["Location"] == "/device/done"
        return self.http.get("/device/done")


class PollingDevice:
    """A device client over real HTTP, as RFC 8628 §3.4/§3.5 asks: it waits ``interval``
    between polls, adds 5 seconds on ``slow_down`` and stops on any other answer."""

    def __init__(self, base_url: str, client_id: str, client_secret: str | None = None) -> None:
        self.base_url = base_url
        self.client_id = client_id
        self.auth = (client_id, client_secret) if client_secret else None
        self.http = requests.Session()
        self.grant: dict[str, Any] = {}
        self.interval = 0
        self.polls: list[str] = []

    def _form(self, **fields: str) -> dict[str, str]:
        return fields if self.auth else fields | {"client_id": self.client_id}

    def start(self, scope: str) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base_url}/device_authorization", data=self._form(scope=scope),
            auth=self.auth, timeout=10,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        self.grant = response.json()
        self.interval = int(self.grant["interval"])
        return self.grant

    def poll_once(self) -> requests.Response:
        form = self._form(grant_type=DEVICE_GRANT, device_code=self.grant["device_code"])
        response = self.http.post(f"{self.base_url}/token", data=form, auth=self.auth, timeout=10)
        self.polls.append(str(response.json().get("error", "tokens")))
        return response

    def poll_until_done(self, timeout: float = 30) -> requests.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(self.interval)
            response = self.poll_once()
            error = response.json().get("error")
            if error == "slow_down":
                self.interval += 5
            elif error != "authorization_pending":
                return response
        raise AssertionError(f"no decision within {timeout} s: {self.polls}")

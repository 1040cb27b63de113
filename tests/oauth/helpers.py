"""Helpers that play the client's part of OAuth flows against the test app."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import redis
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.test import TestResponse

from app.services import clients as client_service
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from, skip_or_fail

CONSENT_TICKET = re.compile(r'name="consent_ticket" value="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str | None
    metadata: dict[str, Any]
    private_key: ECKey | None = None

    @property
    def redirect_uri(self) -> str:
        return str(self.metadata["redirect_uris"][0])

    @property
    def auth_method(self) -> str:
        return str(self.metadata["token_endpoint_auth_method"])


class ClientFactory:
    """Registers clients through ``services.clients.register_client``."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def create(self, private_key: ECKey | None = None, **metadata: Any) -> RegisteredClient:
        metadata.setdefault("client_name", "Test client")
        if private_key is not None:
            metadata.setdefault("token_endpoint_auth_method", "private_key_jwt")
            metadata.setdefault("jwks", {"keys": [private_key.as_dict(private=False)]})
        resource_server = metadata.pop("resource_server", False)
        audiences = metadata.pop("resource_audiences", ())
        with self.app.app_context():
            registration = client_service.register_client(
                metadata, resource_server=resource_server, resource_audiences=audiences
            )
            info = registration.information_response()
        return RegisteredClient(info["client_id"], info.get("client_secret"), info, private_key)


def client_assertion(client: RegisteredClient, audience: str, **overrides: Any) -> str:
    """A private_key_jwt assertion (RFC 7523 §3) signed with the client's key."""
    assert client.private_key is not None
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    } | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"alg": "ES256", "kid": client.private_key.kid or "k1"}
    return jwt.encode(header, claims, client.private_key, algorithms=["ES256"])


@dataclass
class FlowResult:
    """What came back to the client's redirect URI."""

    response: TestResponse
    params: dict[str, str] = field(default_factory=dict)
    verifier: str = ""

    @property
    def code(self) -> str:
        return self.params["code"]


class OAuthActions:
    """Drive /authorize, the consent page and /token like a client and a user would."""

    def __init__(self, client: FlaskClient, issuer: str) -> None:
        self.http = client
        self.issuer = issuer

    # -- front channel --------------------------------------------------------------
    def authorize_params(
        self, client: RegisteredClient, **params: Any
    ) -> tuple[dict[str, Any], str]:
        verifier, challenge = pkce_pair()
        base = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid profile photos.read",
            "state": "st-" + secrets.token_hex(4),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        merged = {k: v for k, v in (base | params).items() if v is not None}
        return merged, verifier

    def authorize(self, client: RegisteredClient, **params: Any) -> tuple[TestResponse, str]:
        query, verifier = self.authorize_params(client, **params)
        return self.http.get("/authorize?" + urlencode(query)), verifier

    def sign_in(self, username: str = "bob", password: str = DEFAULT_PASSWORD) -> None:
        token = csrf_token_from(self.http.get("/login").get_data(as_text=True))
        form = {"username": username, "password": password, "csrf_token": token}
        response = self.http.post("/login", data=form)
        assert response.status_code == 303, response.get_data(as_text=True)

    def decide(
        self, consent_page: TestResponse, path: str, decision: str = "allow",
        granted: list[str] | None = None,
    ) -> TestResponse:  # fmt: skip
        html = consent_page.get_data(as_text=True)
        match = CONSENT_TICKET.search(html)
        assert match, "not a consent page"
        form: dict[str, Any] = {
            "csrf_token": csrf_token_from(html),
            "consent_ticket": match.group(1),
            "decision": decision,
        }
        if granted is not None:
            form["granted_scope"] = granted
        else:
            form["granted_scope"] = re.findall(r'name="granted_scope" value="([^"]+)"', html)
        return self.http.post(path, data=form)

    def approve(
        self, client: RegisteredClient, username: str = "bob", granted: list[str] | None = None,
        **params: Any,
    ) -> FlowResult:  # fmt: skip
        """Sign in if needed, allow on the consent page if shown; return the redirect."""
        query, verifier = self.authorize_params(client, **params)
        path = "/authorize?" + urlencode(query)
        response = self.http.get(path)
        if response.status_code == 302 and response.headers["Location"].startswith("/login"):
            self.sign_in(username)
            response = self.http.get(path)
        if response.status_code == 200:
            response = self.decide(response, path, granted=granted)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return FlowResult(response, query_of(response.headers["Location"]), verifier)

    # -- back channel ---------------------------------------------------------------
    def auth(self, client: RegisteredClient) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and form fields that authenticate ``client`` its registered way."""
        method = client.auth_method
        if method == "client_secret_basic":
            raw = f"{client.client_id}:{client.client_secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}, {}
        if method == "client_secret_post":
            return {}, {"client_id": client.client_id, "client_secret": client.client_secret or ""}
        if method == "private_key_jwt":
            return {}, {
                "client_id": client.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": client_assertion(client, self.issuer),
            }
        return {}, {"client_id": client.client_id}

    def post(self, path: str, client: RegisteredClient | None, **form: Any) -> TestResponse:
        headers, auth_form = self.auth(client) if client else ({}, {})
        data = auth_form | {k: v for k, v in form.items() if v is not None}
        return self.http.post(path, data=data, headers=headers)

    def token(self, client: RegisteredClient | None, **form: Any) -> TestResponse:
        return self.post("/token", client, **form)

    def exchange(self, client: RegisteredClient, flow: FlowResult, **form: Any) -> TestResponse:
        fields = {
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": flow.verifier,
        } | form
        return self.token(client, **fields)

    def tokens_for(self, client: RegisteredClient, **params: Any) -> dict[str, Any]:
        """The whole code flow; returns the token response JSON."""
        response = self.exchange(client, self.approve(client, **params))
        assert response.status_code == 200, response.get_data(as_text=True)
        data: dict[str, Any] = response.json  # type: ignore[assignment]
        return data

    def userinfo(self, access_token: str) -> TestResponse:
        return self.http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def introspect(self, client: RegisteredClient, token: str, **form: Any) -> TestResponse:
        return self.post("/introspect", client, token=token, **form)

    def revoke(self, client: RegisteredClient, token: str, **form: Any) -> TestResponse:
        return self.post("/revoke", client, token=token, **form)


def redis_replay_cache(app_config: dict[str, Any], prefix: str) -> Iterator[str]:
    """For a fixture: the replay cache in TEST_REDIS_URL; the keys under ``prefix`` that the
    test added are deleted afterwards."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("Redis replay-cache tests need TEST_REDIS_URL")
    app_config["REPLAY_CACHE_URI"] = url
    store = redis.Redis.from_url(url)
    before = set(store.scan_iter(f"{prefix}*"))
    yield url
    mine = set(store.scan_iter(f"{prefix}*")) - before
    if mine:
        store.delete(*mine)

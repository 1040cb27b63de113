"""Fuzzing fixtures: a populated app, Hypothesis settings and the properties every answer keeps.

Every fuzzed request must get a status below 500 with no traceback in its body, and a request
that is refused (4xx) must store nothing: the row counts of the tables a client could fill,
and the photo files on disk, stay as they were (docs/security.md "Conventions", ER-03, ER-05..07).

``FUZZ_EXAMPLES`` sets the examples per Hypothesis strategy (default 30, so ``make test``
stays quick); ``make fuzz`` runs 500. Runs are derandomized: the same inputs every time.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import (
    Authorization,
    AuthorizationCode,
    Client,
    Consent,
    LoginSession,
    Photo,
    RefreshToken,
    RevokedAccessToken,
    User,
)
from app.services import photos as photo_service
from tests.api.conftest import PhotoApi, image_bytes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import csrf_token_from
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient
from tests.oauth_fixtures import ALL_SCOPES

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)

# What a refused request must leave untouched: the rows a client could create.
GUARDED_MODELS = (
    User, Client, Photo, AuthorizationCode, RefreshToken, Authorization, Consent,
    RevokedAccessToken,
    LoginSession,
)  # fmt: skip
TRACEBACK_MARKERS = ("Traceback", 'File "')
INJECTED_HEADER = "X-Injected"  # the header CR/LF payloads in the corpus try to add


THROTTLES = ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_IP", "OAUTH_LIMIT_PER_CLIENT",
             "OAUTH_LIMIT_PER_IP", "CLIENT_AUTH_FAILURE_LIMIT",
             "CLIENT_AUTH_FAILURE_LIMIT_PER_IP", "PHOTO_UPLOAD_LIMIT_PER_CLIENT",
             "PHOTO_UPLOAD_LIMIT_PER_USER")  # fmt: skip


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Throttles out of the way: thousands of fuzzed calls, many with wrong credentials, come
    from one test client, and a 429 would end each run's reach at the door."""
    return app_config | {name: "1000000 per minute" for name in THROTTLES}


@dataclass(frozen=True)
class Answer:
    """Status, body and headers of an answer, from the Flask test client or schemathesis."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]

    @classmethod
    def of(cls, response: Any) -> Answer:
        if isinstance(response, TestResponse):
            return cls(response.status_code, response.get_data(), list(response.headers.items()))
        headers = [(name, value) for name, values in response.headers.items() for value in values]
        return cls(response.status_code, response.content, headers)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def body_text(response: TestResponse) -> str:
    return response.get_data().decode("utf-8", errors="replace")


def assert_clean(response: Any, what: object = "") -> None:
    """Below 500, no traceback, and no header a CR/LF in the input could have forged."""
    answer = Answer.of(response)
    assert answer.status < 500, (what, answer.status, answer.text[:500])
    for marker in TRACEBACK_MARKERS:
        assert marker not in answer.text, (what, marker, answer.text[:2000])
    for name, value in answer.headers:
        assert "\r" not in value and "\n" not in value, (what, name, value[:200])
        assert name.lower() != INJECTED_HEADER.lower(), (what, name, value[:200])


@dataclass
class Snapshot:
    rows: dict[str, int]
    files: int


class Store:
    """Counts what a client could have written: guarded rows and stored photo files."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def snapshot(self) -> Snapshot:
        counts = [
            select(func.count()).select_from(model).scalar_subquery() for model in GUARDED_MODELS
        ]
        with self.app.app_context():
            row = db.session.execute(select(*counts)).one()
            db.session.remove()
            root = photo_service.store_root()
        files = sum(1 for _ in root.glob("*/*")) if root.exists() else 0
        names = [model.__tablename__ for model in GUARDED_MODELS]
        return Snapshot(dict(zip(names, row, strict=True)), files)

    @contextmanager
    def unchanged_unless_accepted(
        self, what: object = "", *, always: bool = False
    ) -> Iterator[list[Any]]:
        """Run the block, which appends its responses: each must be clean, and if the last
        one was refused (4xx; any answer with ``always``), nothing was stored."""
        before = self.snapshot()
        responses: list[Any] = []
        yield responses
        for response in responses:
            assert_clean(response, what)
        status = Answer.of(responses[-1]).status if responses else 0
        if always or 400 <= status < 500:
            after = self.snapshot()
            assert after == before, (what, status, before, after)

    def check(
        self, send: Callable[[], TestResponse], what: object = "", *, always: bool = False
    ) -> TestResponse:
        """Send one request and hold the fuzzing properties on it."""
        with self.unchanged_unless_accepted(what, always=always) as responses:
            responses.append(send())
        response: TestResponse = responses[-1]
        return response

    def tracker(self) -> Tracker:
        return Tracker(self)


class Tracker:
    """``Store.check`` for long runs of requests: one count per request, not two.

    The counts after each answer are the baseline for the next request, so nothing else may
    write between two ``check`` calls of one tracker.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.before = store.snapshot()

    def check(self, send: Callable[[], TestResponse], what: object = "") -> TestResponse:
        response = send()
        assert_clean(response, what)
        after = self.store.snapshot()
        if 400 <= response.status_code < 500:
            assert after == self.before, (what, response.status_code, self.before, after)
        self.before = after
        return response


@dataclass
class World:
    """A populated Tessera: bob with a photo and tokens, an admin, and the docs/security.md
    clients."""

    app: Flask
    bob_id: int
    conf: RegisteredClient
    cc: RegisteredClient
    access_token: str
    photo_id: str

    def basic(self, client: RegisteredClient) -> str:
        raw = f"{client.client_id}:{client.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def api(self) -> PhotoApi:
        return PhotoApi(self.app.test_client(), self.access_token)

    def signed_in(self, username: str = "bob") -> FlaskClient:
        """A fresh browser signed in as ``username`` (bob, or the admin root)."""
        return sign_in(self.app, username)


def sign_in(app: Flask, username: str, password: str = DEFAULT_PASSWORD) -> FlaskClient:
    """A fresh browser signed in through the form (with its CSRF token when CSRF is on)."""
    http = app.test_client()
    form = {"username": username, "password": password}
    page = http.get("/login").get_data(as_text=True)
    if app.config.get("WTF_CSRF_ENABLED", True):
        form["csrf_token"] = csrf_token_from(page)
    response = http.post("/login", data=form)
    assert response.status_code == 303, body_text(response)[:300]
    return http


@pytest.fixture
def store(app: Flask) -> Store:
    return Store(app)


@pytest.fixture
def world(app: Flask, users: UserFactory, clients: ClientFactory) -> World:
    """bob (a photo, an access token for PhotoPrint), the admin root, PhotoPrint (``conf``,
    confidential, code + refresh) and Batch job (``cc``, client_credentials)."""
    bob = users.create("bob")
    users.create("root", admin=True)
    conf = clients.create(
        client_name="PhotoPrint",
        redirect_uris=["https://app.test/cb"],
        grant_types=["authorization_code", "refresh_token"],
        scope=ALL_SCOPES,
    )
    cc = clients.create(
        client_name="Batch job", grant_types=["client_credentials"], scope="photos.read"
    )
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    tokens = oauth.tokens_for(conf, username="bob", scope=ALL_SCOPES)
    with app.app_context():
        photo_id = photo_service.store_upload(bob.id, image_bytes(), "Beach", "").id
    return World(app, bob.id, conf, cc, tokens["access_token"], photo_id)

"""Client authentication at the token endpoint, and the token endpoint's request rules.

RFC 6749 §2.3 (client authentication), §3.2 (token endpoint: form-encoded POST, parameters
at most once), §5.1 (``Cache-Control: no-store``), §5.2 (error codes); RFC 7523 §3 and
OpenID Connect Core §9 (private_key_jwt assertions); RFC 7591 §3.2.1 (the secret is returned
at registration). docs/security.md rows CA-01, CA-02, CA-04, CA-05, CA-07 (aud), CA-08 (one
method per request; CA-03 and CA-06 are not covered here), AC-09 (grant_type=password), ER-02,
ER-04 and ER-05 (repeated parameters).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import create_app
from app.extensions import db
from app.models import Authorization, UsedClientAssertion
from app.oauth.client_auth import CLOCK_LEEWAY, MAX_ASSERTION_LIFETIME
from app.services import use_once
from app.services.replay_cache import CLIENT_ASSERTION
from tests.live import LiveServer
from tests.oauth.helpers import (
    ClientFactory,
    OAuthActions,
    RegisteredClient,
    client_assertion,
    redis_replay_cache,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def authorization_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Authorization)) or 0


def assert_invalid_client(response: TestResponse, statuses: tuple[int, ...] = (400, 401)) -> None:
    assert response.status_code in statuses, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None and body["error"] == "invalid_client"
    assert "access_token" not in body


def assertion_form(client: RegisteredClient, assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


# -- CA-01: secrets, and only the registered method ---------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        lambda conf: basic(conf.client_id, "wrong-secret"),
        lambda conf: basic(conf.client_id, conf.client_secret[:-1]),
        lambda conf: basic("no-such-client", conf.client_secret),
        lambda conf: basic(conf.client_id, conf.client_secret.upper()),
    ],
    ids=["wrong-secret", "truncated-secret", "unknown-client", "case-changed-secret"],
)
def test_bad_basic_credentials_are_401_invalid_client_with_a_basic_challenge(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, credentials: Any
) -> None:
    """RFC 6749 §5.2: Authorization header used -> 401 + WWW-Authenticate: Basic. The code
    is not spent by the failed attempt."""
    flow = oauth.approve(conf)
    form = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": conf.redirect_uri,
        "code_verifier": flow.verifier,
    }
    response = oauth.http.post("/token", data=form, headers=credentials(conf))
    assert_invalid_client(response, (401,))
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert oauth.exchange(conf, flow).status_code == 200


def test_a_basic_client_sending_its_secret_in_the_body_is_invalid_client(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """Only the registered token_endpoint_auth_method is accepted (RFC 7591 §2)."""
    flow = oauth.approve(conf)
    response = oauth.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": conf.redirect_uri,
            "code_verifier": flow.verifier,
            "client_id": conf.client_id,
            "client_secret": conf.client_secret,
        },
    )
    assert_invalid_client(response)


def test_a_post_client_sending_its_secret_by_basic_is_invalid_client(
    oauth: OAuthActions, clients: ClientFactory
) -> None:
    post_client = clients.create(
        grant_types=["client_credentials"],
        scope="photos.read",
        token_endpoint_auth_method="client_secret_post",
    )
    assert oauth.token(post_client, grant_type="client_credentials").status_code == 200
    response = oauth.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic(post_client.client_id, post_client.client_secret or ""),
    )
    assert_invalid_client(response)


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({"client_secret": "anything"}, False),
        ({}, True),
    ],
    ids=["secret-in-body", "basic-header"],
)
def test_a_public_client_sending_a_secret_is_invalid_client(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any, form: dict[str, str], headers: bool
) -> None:
    flow = oauth.approve(pub)
    data = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": pub.redirect_uri,
        "code_verifier": flow.verifier,
        "client_id": pub.client_id,
    }
    auth = basic(pub.client_id, "anything") if headers else {}
    response = oauth.http.post("/token", data=data | form, headers=auth)
    assert_invalid_client(response)


def test_a_key_client_sending_a_secret_is_invalid_client(
    oauth: OAuthActions, pkj: RegisteredClient
) -> None:
    for headers, form in (
        (basic(pkj.client_id, "guess"), {}),
        ({}, {"client_id": pkj.client_id, "client_secret": "guess"}),
        ({}, {"client_id": pkj.client_id}),
    ):
        response = oauth.http.post(
            "/token", data=form | {"grant_type": "client_credentials"}, headers=headers
        )
        assert_invalid_client(response)


# -- CA-08: one authentication method per request ------------------------------------------
ENDPOINT_FORMS: dict[str, dict[str, str]] = {
    "/token": {"grant_type": "client_credentials"},
    "/introspect": {"token": "some-token"},
    "/revoke": {"token": "some-token"},
    "/par": {"response_type": "code", "scope": "openid"},
    "/device_authorization": {"scope": "openid"},
}


def _two_methods(
    case: str, secret_client: RegisteredClient, key_client: RegisteredClient, issuer: str
) -> Any:
    """(form, headers) carrying the credentials of two client authentication methods."""
    assertion = {
        "client_id": key_client.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(key_client, issuer),
    }
    secret = secret_client.client_secret or ""
    by_basic = basic(secret_client.client_id, secret)
    return {
        "basic-and-body-secret": ({"client_secret": secret}, by_basic),
        "basic-and-empty-body-secret": ({"client_secret": ""}, by_basic),
        "assertion-and-body-secret": (assertion | {"client_secret": "guess"}, {}),
        "assertion-and-basic": (assertion, basic(key_client.client_id, "guess")),
    }[case]


@pytest.mark.parametrize("endpoint", list(ENDPOINT_FORMS))
@pytest.mark.parametrize(
    "case",
    [
        "basic-and-body-secret",
        "basic-and-empty-body-secret",
        "assertion-and-body-secret",
        "assertion-and-basic",
    ],
)
def test_two_client_authentication_methods_in_one_request_are_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient, pkj: RegisteredClient, endpoint: str, case: str
) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request;
    every endpoint where clients authenticate answers 400 invalid_request, issuing nothing."""
    form, headers = _two_methods(case, conf, pkj, oauth.issuer)
    response = oauth.http.post(endpoint, data=ENDPOINT_FORMS[endpoint] | form, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.json
    assert body is not None and body["error"] == "invalid_request", body
    assert "one client authentication method" in body["error_description"]
    assert not {"access_token", "request_uri", "device_code", "active"} & set(body)


# -- CA-02: secrets shown once, stored hashed ---------------------------------------------


def test_the_secret_is_printed_once_and_never_shown_again(
    app: Flask, app_config: dict[str, Any]
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "clients", "create", "--name", "Cron", "--grant-types", "client_credentials",
            "--scope", "photos.read", "--json",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    client_id, secret = created["client_id"], created["client_secret"]
    assert len(secret) >= 43
    digest = hashlib.sha256(secret.encode()).hexdigest()

    for args in (
        ["clients", "show", client_id],
        ["clients", "list", "--json"],
        ["clients", "list"],
    ):
        output = runner.invoke(args=args).output
        assert client_id in output
        assert secret not in output
        assert digest not in output
    shown = json.loads(runner.invoke(args=["clients", "show", client_id]).output)
    assert "client_secret" not in shown
    listed = json.loads(runner.invoke(args=["clients", "list", "--json"]).output)
    assert all("client_secret" not in entry for entry in listed)

    restarted = create_app(app_config)  # a new process would see only the database
    try:
        http = restarted.test_client()
        form = {"grant_type": "client_credentials"}
        ok = http.post("/token", data=form, headers=basic(client_id, secret))
        assert ok.status_code == 200, ok.get_data(as_text=True)
        assert ok.json is not None and "access_token" in ok.json
        bad = http.post("/token", data=form, headers=basic(client_id, digest))
        assert_invalid_client(bad, (401,))
    finally:
        with restarted.app_context():
            db.engine.dispose()


# -- CA-04: private_key_jwt negatives ---------------------------------------------------


def _alg_none(client: RegisteredClient, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    header = b64url(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def _foreign_key_signature(client: RegisteredClient, audience: str) -> str:
    assert client.private_key is not None
    other_key = ECKey.generate_key("P-256", parameters={"kid": client.private_key.kid or ""})
    stranger = RegisteredClient(client.client_id, None, client.metadata, other_key)
    return client_assertion(stranger, audience)


def _tampered_payload(client: RegisteredClient, audience: str) -> str:
    header, _, signature = client_assertion(client, audience).split(".")
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 3600,
    }
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def _hs256_with_public_key(client: RegisteredClient, audience: str) -> str:
    assert client.private_key is not None
    public = json.dumps(client.private_key.as_dict(private=False)).encode()
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(public), algorithms=["HS256"])


NOW = "now"
BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "sub-missing": {"sub": None},
    "iss-missing": {"iss": None},
    "sub-other-value": {"sub": "someone-else"},
    "iss-other-value": {"iss": "someone-else"},
    "aud-missing": {"aud": None},
    "aud-unrelated": {"aud": "https://evil.test/token"},
    "aud-resource-api": {"aud": "{issuer}/api/v1"},
    # CA-07 (draft-ietf-oauth-rfc7523bis): the issuer identifier, as one string, and only it
    "aud-token-endpoint": {"aud": "{issuer}/token"},
    "aud-par-endpoint": {"aud": "{issuer}/par"},
    "aud-issuer-with-trailing-slash": {"aud": "{issuer}/"},
    "aud-array-of-the-issuer": {"aud": ["{issuer}"]},
    "aud-array-with-a-foreign-value": {"aud": ["{issuer}", "https://evil.test"]},
    "exp-missing": {"exp": None},
    "exp-past": {"exp": -60},
    "exp-beyond-5-minutes": {"exp": 3600},
    "iat-60s-ahead": {"iat": 60},
    "nbf-60s-ahead": {"nbf": 60},
    "jti-missing": {"jti": None},
    "jti-empty": {"jti": ""},
}


def _claims(overrides: dict[str, Any], issuer: str) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in ("exp", "iat", "nbf") and isinstance(value, int):
            out[name] = now + value
        elif isinstance(value, str):
            out[name] = value.replace("{issuer}", issuer)
        elif isinstance(value, list):
            out[name] = [item.replace("{issuer}", issuer) for item in value]
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("overrides", list(BAD_CLAIMS.values()), ids=list(BAD_CLAIMS))
def test_an_assertion_with_bad_claims_is_invalid_client(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, overrides: dict[str, Any]
) -> None:
    issuer = app.config["OAUTH_ISSUER"]
    assertion = client_assertion(pkj, issuer, **_claims(overrides, issuer))
    response = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert_invalid_client(response)
    assert authorization_count(app) == 0


def test_an_assertion_naming_another_client_is_invalid_client(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, conf: RegisteredClient
) -> None:
    """iss = sub = another registered client, signed with pkj's key."""
    issuer = app.config["OAUTH_ISSUER"]
    assertion = client_assertion(pkj, issuer, iss=conf.client_id, sub=conf.client_id)
    for client_id in (pkj.client_id, conf.client_id):
        form = assertion_form(pkj, assertion) | {"client_id": client_id}
        assert_invalid_client(oauth.http.post("/token", data=form))
    assert authorization_count(app) == 0


@pytest.mark.parametrize(
    "forge",
    [_alg_none, _foreign_key_signature, _tampered_payload, _hs256_with_public_key],
    ids=["alg-none", "signed-by-another-key", "tampered-payload", "hs256-with-public-key"],
)
def test_an_assertion_without_a_valid_signature_is_invalid_client(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, forge: Any
) -> None:
    assertion = forge(pkj, app.config["OAUTH_ISSUER"])
    response = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert_invalid_client(response)
    assert authorization_count(app) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"client_assertion_type": None},
        {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
        {"client_assertion": None},
        {"client_assertion": ""},
        {"client_assertion": "not-a-jwt"},
        {"client_assertion_type": None, "client_assertion": None},
    ],
    ids=[
        "assertion_type-missing",
        "assertion_type-wrong",
        "assertion-missing",
        "assertion-empty",
        "assertion-garbage",
        "no-assertion-at-all",
    ],
)
def test_a_missing_or_mistyped_assertion_is_invalid_client(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, change: dict[str, Any]
) -> None:
    assertion = client_assertion(pkj, app.config["OAUTH_ISSUER"])
    form = {k: v for k, v in (assertion_form(pkj, assertion) | change).items() if v is not None}
    assert_invalid_client(oauth.http.post("/token", data=form))
    assert authorization_count(app) == 0


@pytest.mark.parametrize(
    "overrides",
    [{}, {"iat": 8, "nbf": 8}, {"exp": 290}],
    ids=["plain", "8s-clock-skew", "exp-within-5-minutes"],
)
def test_a_valid_assertion_authenticates(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, overrides: dict[str, Any]
) -> None:
    """aud is the issuer identifier (CA-07)."""
    issuer = app.config["OAUTH_ISSUER"]
    claims = _claims(overrides, issuer)
    assertion = client_assertion(pkj, issuer, **claims)
    response = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and "access_token" in response.json


# -- CA-05: single-use jti --------------------------------------------------------------


def test_the_same_assertion_twice_is_refused_the_second_time(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient
) -> None:
    assertion = client_assertion(pkj, app.config["OAUTH_ISSUER"])
    first = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert first.status_code == 200, first.get_data(as_text=True)
    assert_invalid_client(oauth.http.post("/token", data=assertion_form(pkj, assertion)))


def test_a_jti_is_single_use_on_a_database_without_on_conflict(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """use_once's fallback for other dialects: the INSERT in a savepoint; a duplicate rolls
    back to the savepoint only, and is refused."""
    monkeypatch.setattr(use_once, "_ON_CONFLICT", {})
    assertion = client_assertion(pkj, app.config["OAUTH_ISSUER"])
    first = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert first.status_code == 200, first.get_data(as_text=True)
    assert_invalid_client(oauth.http.post("/token", data=assertion_form(pkj, assertion)))


@pytest.fixture
def redis_url(app_config: dict[str, Any]) -> Iterator[str]:
    """The replay cache in TEST_REDIS_URL; this test's assertion ids are deleted afterwards."""
    yield from redis_replay_cache(app_config, CLIENT_ASSERTION.redis_prefix)


@pytest.mark.redis
def test_with_the_redis_replay_cache_a_jti_is_single_use_and_kept_in_redis(
    redis_url: str, app: Flask, oauth: OAuthActions, pkj: RegisteredClient
) -> None:
    """REPLAY_CACHE_URI keeps client assertion jtis in Redis too, in their own key space."""
    store = redis.Redis.from_url(redis_url)
    before = set(store.scan_iter(CLIENT_ASSERTION.redis_prefix + "*"))
    assertion = client_assertion(pkj, app.config["OAUTH_ISSUER"])
    first = oauth.http.post("/token", data=assertion_form(pkj, assertion))
    assert first.status_code == 200, first.get_data(as_text=True)
    assert_invalid_client(oauth.http.post("/token", data=assertion_form(pkj, assertion)))
    with app.app_context():
        assert db.session.query(UsedClientAssertion).count() == 0  # Redis, not the database
    (name,) = set(store.scan_iter(CLIENT_ASSERTION.redis_prefix + "*")) - before
    assert 0 < store.ttl(name) <= MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY


def test_a_jti_is_single_use_even_in_a_fresh_assertion(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient
) -> None:
    """A new signature does not make an old jti usable again."""
    audience = app.config["OAUTH_ISSUER"]
    jti = str(uuid.uuid4())
    first = oauth.http.post(
        "/token", data=assertion_form(pkj, client_assertion(pkj, audience, jti=jti))
    )
    assert first.status_code == 200
    again = client_assertion(pkj, audience, jti=jti, exp=int(time.time()) + 120)
    assert_invalid_client(oauth.http.post("/token", data=assertion_form(pkj, again)))


@pytest.mark.parametrize("number", [int, float], ids=["integer", "float"])
def test_an_assertion_living_past_the_cap_is_invalid_client(
    oauth: OAuthActions, app: Flask, pkj: RegisteredClient, number: type
) -> None:
    """CA-04: a client-signed assertion lives at most MAX_ASSERTION_LIFETIME, however its exp
    is spelled (JSON numbers may carry a fraction; RFC 7519 §2 NumericDate)."""
    exp = number(time.time() + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY + 3600)
    assertion = client_assertion(pkj, app.config["OAUTH_ISSUER"], exp=exp)
    assert_invalid_client(oauth.http.post("/token", data=assertion_form(pkj, assertion)))


@pytest.mark.live
def test_parallel_uses_of_one_assertion_yield_at_most_one_token(
    pkj: RegisteredClient, live_server: LiveServer
) -> None:
    """CA-05 through gunicorn (2 workers, shared database): 10 at once -> at most one 200."""
    assertion = client_assertion(pkj, live_server.url)
    form = assertion_form(pkj, assertion)
    barrier = threading.Barrier(10)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def attempt() -> None:
        with requests.Session() as session:
            barrier.wait(timeout=10)
            response = session.post(f"{live_server.url}/token", data=form, timeout=30)
        with lock:
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 10, live_server.log()
    successes = [body for status, body in results if status == 200]
    assert len(successes) <= 1, results
    for status, body in results:
        if status != 200:
            assert status in (400, 401), (status, body)
            assert body["error"] == "invalid_client"


# -- the token endpoint's own request rules -------------------------------------------


def test_every_token_response_is_no_store(
    oauth: OAuthActions, cc: RegisteredClient, conf: RegisteredClient
) -> None:
    """RFC 6749 §5.1 (success) and docs/security.md ER-02 (errors too)."""
    responses = [
        oauth.token(cc, grant_type="client_credentials"),
        oauth.token(cc, grant_type="client_credentials", scope="photos.write"),
        oauth.token(conf, grant_type="client_credentials"),
        oauth.token(conf, grant_type="authorization_code", code="nope"),
        oauth.http.post("/token", data={"grant_type": "client_credentials"}),
        oauth.http.post("/token", data={"grant_type": "password"}),
        oauth.http.post("/token", data={}),
        oauth.http.post("/token", json={"grant_type": "client_credentials"}),
    ]
    assert responses[0].status_code == 200
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", response.status_code
        assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"grant_type": "client_credentials"}', "application/json"),
        ("grant_type=client_credentials", "text/plain"),
        ("grant_type=client_credentials", "multipart/form-data; boundary=x"),
        ("grant_type=client_credentials", None),
    ],
    ids=["json", "text-plain", "multipart", "no-content-type"],
)
def test_a_token_request_that_is_not_form_encoded_is_invalid_request(
    oauth: OAuthActions, cc: RegisteredClient, body: str, content_type: str | None
) -> None:
    """RFC 6749 §3.2: application/x-www-form-urlencoded only."""
    headers = basic(cc.client_id, cc.client_secret or "")
    if content_type:
        headers["Content-Type"] = content_type
    response = oauth.http.post("/token", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("grant_type", [None, ""], ids=["absent", "empty"])
def test_a_token_request_without_grant_type_is_invalid_request(
    oauth: OAuthActions, cc: RegisteredClient, grant_type: str | None
) -> None:
    response = oauth.token(cc, grant_type=grant_type, scope="photos.read")
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_request"


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "CLIENT_CREDENTIALS",
    ],
)
def test_an_unsupported_grant_type_is_refused(
    oauth: OAuthActions, cc: RegisteredClient, bob: Any, grant_type: str
) -> None:
    """AC-09: no resource-owner password grant, nor anything not implemented."""
    response = oauth.token(
        cc, grant_type=grant_type, username="bob", password="correct horse battery staple"
    )
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "unsupported_grant_type"
    assert "access_token" not in response.json


@pytest.mark.parametrize(
    "pairs",
    [
        [("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
        [("grant_type", "client_credentials"), ("scope", "photos.read"), ("scope", "openid")],
        [("grant_type", "client_credentials"), ("client_id", "{id}"), ("client_id", "{id}")],
        [("grant_type", "client_credentials"), ("client_id", "{id}"), ("client_id", "other")],
    ],
    ids=["grant_type", "scope", "client_id-same", "client_id-different"],
)
def test_a_repeated_parameter_is_invalid_request(
    oauth: OAuthActions, cc: RegisteredClient, pairs: list[tuple[str, str]]
) -> None:
    """RFC 6749 §3.2: request and response parameters MUST NOT be included more than once."""
    data = [(name, value.replace("{id}", cc.client_id)) for name, value in pairs]
    headers = basic(cc.client_id, cc.client_secret or "")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = oauth.http.post("/token", data=urlencode(data), headers=headers)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_request"
    assert "access_token" not in response.json

"""Races through gunicorn: what is good once stays good once, however many ask together.

docs/security.md RL-01 (parallel redemptions of one authorization code), RL-02 (parallel refreshes
of one refresh token), CA-05 (one client assertion replayed in parallel) and LS-05 (the
sign-in throttle counts attempts that arrive together). Tessera runs under gunicorn with 4
workers on the test's database (SQLite and PostgreSQL); each request has its own connection
and all leave together through a ``threading.Barrier``. To keep the run short, RL-01 runs 3
trials per backend instead of 20, and the others one trial each.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import csrf_token_from, skip_or_fail
from tests.live import LiveServer
from tests.oauth.helpers import FlowResult, OAuthActions, RegisteredClient, client_assertion

pytestmark = [pytest.mark.reliability, pytest.mark.live]

OFFLINE = "openid profile offline_access photos.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BARRIER_TIMEOUT = 30
REQUEST_TIMEOUT = 60
CODE_TRIALS = 3

Send = Callable[[requests.Session, Any], requests.Response]


# -- helpers ----------------------------------------------------------------------------
def _no_preparation(http: requests.Session) -> None:
    return None


def race(
    count: int, send: Send, prepare: Callable[[requests.Session], Any] = _no_preparation
) -> list[requests.Response]:
    """``count`` clients, each on its own session, prepare, wait for each other, then send."""
    barrier = threading.Barrier(count)

    def attempt(_: int) -> requests.Response:
        with requests.Session() as http:
            try:
                prepared = prepare(http)
            except BaseException:
                barrier.abort()  # the others stop waiting at once
                raise
            barrier.wait(timeout=BARRIER_TIMEOUT)
            return send(http, prepared)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(attempt, range(count)))


def outcome(response: requests.Response) -> tuple[int, str]:
    """(status, OAuth error code or "") for a tally."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text[:80]
    return response.status_code, str(body.get("error", "")) if isinstance(body, dict) else ""


def tally(responses: list[requests.Response]) -> Counter[tuple[int, str]]:
    return Counter(outcome(response) for response in responses)


def assert_token_error(
    response: requests.Response, error: str, statuses: tuple[int, ...] = (400,)
) -> None:
    """RFC 6749 §5.2: a JSON error, no-store, and no token in the body."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers.get("Cache-Control") == "no-store"
    body = response.json()
    assert body["error"] == error, body
    assert not {"access_token", "refresh_token", "id_token"} & set(body)


def post_token(
    http: requests.Session, server: LiveServer, client: RegisteredClient, **form: str
) -> requests.Response:
    """POST /token authenticated with client_secret_basic."""
    auth = (client.client_id, client.client_secret or "")
    return http.post(f"{server.url}/token", data=form, auth=auth, timeout=REQUEST_TIMEOUT)


def token_race(
    count: int, server: LiveServer, client: RegisteredClient, form: dict[str, str]
) -> list[requests.Response]:
    """``count`` identical token requests of ``client`` at once."""
    return race(count, lambda http, _: post_token(http, server, client, **form))


def redemption(client: RegisteredClient, flow: FlowResult) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": flow.verifier,
    }


def is_active(server: LiveServer, rs: RegisteredClient, token: str) -> bool:
    """RFC 7662 introspection at the live server, by ``rs`` (a resource server, for access
    tokens, or the confidential client that owns the token)."""
    response = requests.post(
        f"{server.url}/introspect",
        data={"token": token},
        auth=(rs.client_id, rs.client_secret or ""),
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


def refresh(server: LiveServer, client: RegisteredClient, refresh_token: str) -> requests.Response:
    with requests.Session() as http:
        return post_token(
            http, server, client, grant_type="refresh_token", refresh_token=refresh_token
        )


def assert_authorization_revoked(
    server: LiveServer, client: RegisteredClient, rs: RegisteredClient, tokens: dict[str, Any]
) -> None:
    """Neither token of ``tokens`` introspects active, and the refresh token is refused."""
    assert not is_active(server, rs, tokens["access_token"])
    if client.client_secret:  # a resource server never learns about refresh tokens (IN-01)
        assert not is_active(server, client, tokens["refresh_token"])
    assert_token_error(refresh(server, client, tokens["refresh_token"]), "invalid_grant")


# -- RL-01: parallel redemptions of one authorization code --------------------------------
def test_parallel_redemptions_of_one_code_give_at_most_one_token_which_is_then_revoked(
    oauth: OAuthActions,
    conf: RegisteredClient,
    rs: RegisteredClient,
    bob: Any,
    live4: LiveServer,
) -> None:
    """50 redemptions at once: at most one 200, the rest invalid_grant; the replays revoke
    what the winner got (RFC 9700 §4.2.4). Codes come from the in-process app (same database)."""
    winners = 0
    for trial in range(CODE_TRIALS):
        form = redemption(conf, oauth.approve(conf, scope=OFFLINE))
        responses = token_race(50, live4, conf, form)
        seen = tally(responses)
        successes = [r for r in responses if r.status_code == 200]
        assert len(successes) <= 1, (trial, seen, live4.log()[-3000:])
        for response in responses:
            if response.status_code != 200:
                assert_token_error(response, "invalid_grant")
        if successes:
            winners += 1
            assert_authorization_revoked(live4, conf, rs, successes[0].json())
    # Without a winner the revocation was never checked: the first redemption must succeed.
    assert winners >= 1, "no trial issued a token at all"


# -- RL-02: parallel refreshes of one refresh token ---------------------------------------
def test_parallel_refreshes_of_one_refresh_token_give_at_most_one_token(
    oauth: OAuthActions,
    conf: RegisteredClient,
    rs: RegisteredClient,
    bob: Any,
    live4: LiveServer,
) -> None:
    """20 refreshes at once: at most one 200, the rest invalid_grant. The reuse revokes the
    grant (RFC 9700 §4.14.2, no grace window): the first tokens and any rotated ones die."""
    with requests.Session() as http:
        first = post_token(
            http, live4, conf, **redemption(conf, oauth.approve(conf, scope=OFFLINE))
        )
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert is_active(live4, rs, tokens["access_token"])

    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    responses = token_race(20, live4, conf, form)
    successes = [r for r in responses if r.status_code == 200]
    assert len(successes) <= 1, (tally(responses), live4.log()[-3000:])
    for response in responses:
        if response.status_code != 200:
            assert_token_error(response, "invalid_grant")
    assert not is_active(live4, rs, tokens["access_token"])
    for success in successes:
        assert_authorization_revoked(live4, conf, rs, success.json())


# -- CA-05: one client assertion replayed in parallel -------------------------------------
def test_one_client_assertion_used_in_parallel_gives_at_most_one_token(
    pkj: RegisteredClient, live4: LiveServer
) -> None:
    """20 client_credentials requests carrying the same private_key_jwt assertion: at most
    one 200, the rest invalid_client (RFC 7523 §3 jti; OIDC Core §9). A fresh one still works."""

    def form(assertion: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": pkj.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

    token_url = f"{live4.url}/token"
    replayed = form(client_assertion(pkj, live4.url))  # aud: the issuer (CA-07)
    responses = race(
        20, lambda http, _: http.post(token_url, data=replayed, timeout=REQUEST_TIMEOUT)
    )
    successes = [r for r in responses if r.status_code == 200]
    assert len(successes) <= 1, (tally(responses), live4.log()[-3000:])
    for response in responses:
        if response.status_code != 200:
            assert_token_error(response, "invalid_client", (400, 401))

    fresh = requests.post(
        token_url, data=form(client_assertion(pkj, live4.url)), timeout=REQUEST_TIMEOUT
    )
    assert fresh.status_code == 200, fresh.text


# -- LS-05: the sign-in throttle under parallel attempts ----------------------------------
LOGIN_LIMIT = 5
LOGIN_WINDOW = 10  # seconds: short, so the test can watch the window end
FAILED_LOGIN = "Invalid username or password."


@pytest.mark.redis
class TestSignInThrottleRace:
    """LS-05 with the throttle counters in Redis, shared by all gunicorn workers."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            skip_or_fail("The sign-in race needs TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
        return app_config | {
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_KEY_PREFIX": f"tessera-race-{secrets.token_hex(6)}",
            "LOGIN_LIMIT_PER_ACCOUNT": f"{LOGIN_LIMIT} per {LOGIN_WINDOW} seconds",
        }

    @staticmethod
    def login_form(http: requests.Session, server: LiveServer) -> str:
        return csrf_token_from(http.get(f"{server.url}/login", timeout=REQUEST_TIMEOUT).text)

    @staticmethod
    def sign_in(
        http: requests.Session, server: LiveServer, token: str, password: str
    ) -> requests.Response:
        form = {"username": "bob", "password": password, "csrf_token": token}
        return http.post(
            f"{server.url}/login", data=form, allow_redirects=False, timeout=REQUEST_TIMEOUT
        )

    def test_parallel_wrong_passwords_are_evaluated_at_most_limit_times(
        self, bob: Any, live4: LiveServer
    ) -> None:
        """50 wrong passwords at once, each from its own session: at most LOGIN_LIMIT are
        checked (200 with the error), the rest 429; the right password then gets 429 until
        the window ends, and signs in after it."""
        started = time.monotonic()  # the window opens at the first attempt, after this
        responses = race(
            50,
            lambda http, token: self.sign_in(http, live4, token, "wrong password"),
            prepare=lambda http: self.login_form(http, live4),
        )
        evaluated = [r for r in responses if r.status_code == 200 and FAILED_LOGIN in r.text]
        throttled = [r for r in responses if r.status_code == 429]
        seen = Counter(r.status_code for r in responses)
        assert len(evaluated) + len(throttled) == len(responses), seen
        assert 1 <= len(evaluated) <= LOGIN_LIMIT, seen

        with requests.Session() as http:
            token = self.login_form(http, live4)
            refused = self.sign_in(http, live4, token, DEFAULT_PASSWORD)
            assert refused.status_code == 429, refused.status_code
            assert int(refused.headers["Retry-After"]) > 0
            deadline = started + LOGIN_WINDOW + 20
            while (answer := self.sign_in(http, live4, token, DEFAULT_PASSWORD)).status_code == 429:
                assert time.monotonic() < deadline, "still throttled long after the window"
                time.sleep(0.5)
            signed_in_at = time.monotonic()
        assert answer.status_code == 303, answer.status_code
        # 0.5 s of slack for Redis' and this clock's granularity.
        assert signed_in_at >= started + LOGIN_WINDOW - 0.5, "throttle lifted before the window"

"""Signing in and out through /login and /logout (docs/security.md group J)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import AuthActions, csrf_token_from
from tests.lanes import Clock
from tests.live import LiveServer, live_settings


def sign_in_at(browser: requests.Session, base_url: str, username: str, password: str) -> int:
    """Sign in through a live server's form, as a browser would; returns the POST status."""
    token = csrf_token_from(browser.get(f"{base_url}/login", timeout=10).text)
    form = {"username": username, "password": password, "csrf_token": token}
    return browser.post(
        f"{base_url}/login", data=form, allow_redirects=False, timeout=30
    ).status_code


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("tessera")
    return cookie.value if cookie else None


def test_login_page_has_labelled_fields_and_sign_in_button(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="username">Username</label>' in html
    assert '<label for="password">Password</label>' in html
    assert ">Sign in</button>" in html
    assert 'name="csrf_token"' in html


def test_sign_in_redirects_to_next_and_shows_the_user(
    client: FlaskClient, auth: AuthActions, bob: object
) -> None:
    response = auth.login(next_path="/%3Fwelcome%3D1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/?welcome=1"
    assert "Signed in as <strong>bob</strong>" in client.get("/").get_data(as_text=True)


def test_username_is_case_insensitive(auth: AuthActions, bob: object) -> None:
    assert auth.login(username="BoB").status_code == 303


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.test",
        "/\\evil.test",
        "https://evil.test",
        "%2F%2Fevil.test",
        "/%2F/evil.test",
        "%252F%252Fevil.test",
        "/%5Cevil.test",
        "javascript:alert(1)",
        "/%09/evil.test",
        "http:/evil.test",
    ],
)
def test_next_cannot_leave_the_site(auth: AuthActions, bob: object, next_path: str) -> None:
    from urllib.parse import quote

    response = auth.login(next_path=quote(next_path, safe=""))
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


DOT_SEGMENT_ESCAPES = [
    "/.//evil.test",
    "/..//evil.test",
    "/./..//evil.test",
    "/a/..//evil.test",
    "/a/b/../..//evil.test",
    "/.///evil.test",
    "/%2e//evil.test",
    "/%2E%2E//evil.test",
    "/.%2F/evil.test",
    "/.%2f%2fevil.test",
    "/%2e%2f%2fevil.test",
    "/.%252F/evil.test",
    "/.\\/evil.test",
    "/.%5C/evil.test",
    "/.\t/evil.test",
    "/.\n/evil.test",
    "/.%09/evil.test",
    "/.%0D%0A/evil.test",
    "/./\\evil.test",
    "/.//evil.test/?x=1#y",
]


@pytest.mark.parametrize("next_path", DOT_SEGMENT_ESCAPES)
def test_next_with_dot_segments_cannot_leave_the_site(
    auth: AuthActions, bob: object, next_path: str
) -> None:
    """Pen-test case 8: ``/.//evil.test`` resolves to the path ``//evil.test``."""
    from urllib.parse import quote, urljoin, urlsplit

    response = auth.login(next_path=quote(next_path, safe=""))
    assert response.status_code == 303
    location = response.headers["Location"]
    landed = urlsplit(urljoin("https://tessera.test/login", location))
    assert landed.netloc == "tessera.test"
    assert not landed.path.startswith("//") and "evil.test" not in location
    assert location == "/"


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/./account/apps", "/account/apps"),
        ("/a/../account/apps?tab=1", "/account/apps?tab=1"),
        ("/authorize?redirect_uri=https%3A%2F%2Fapp.test%2F..%2Fcb", None),
    ],
)
def test_next_on_the_site_keeps_its_path_without_dot_segments(
    auth: AuthActions, bob: object, next_path: str, location: str | None
) -> None:
    from urllib.parse import quote

    response = auth.login(next_path=quote(next_path, safe=""))
    assert response.headers["Location"] == (location or next_path)


def test_unknown_user_and_wrong_password_get_the_same_answer(
    client: FlaskClient, auth: AuthActions, bob: object
) -> None:
    wrong_password = auth.login(password="not the password")
    unknown_user = auth.login(username="mallory")
    assert wrong_password.status_code == unknown_user.status_code == 200
    body_a = wrong_password.get_data(as_text=True)
    body_b = unknown_user.get_data(as_text=True)
    assert "Invalid username or password." in body_a
    strip = csrf_token_from(body_a), csrf_token_from(body_b)
    assert body_a.replace(strip[0], "").replace("bob", "X") == body_b.replace(strip[1], "").replace(
        "mallory", "X"
    )
    assert session_cookie(client) is None or "Signed in" not in client.get("/").get_data(
        as_text=True
    )


def test_disabled_user_cannot_sign_in(auth: AuthActions, users: UserFactory) -> None:
    users.create("carol")
    users.disable("carol")
    response = auth.login(username="carol")
    assert response.status_code == 200
    assert "Invalid username or password." in response.get_data(as_text=True)


def test_session_identifier_changes_at_sign_in(
    client: FlaskClient, auth: AuthActions, bob: object
) -> None:
    token = auth.login_form()
    before = session_cookie(client)
    assert before is not None
    client.post(
        "/login", data={"username": "bob", "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    after = session_cookie(client)
    assert after and after != before
    # Someone holding the pre-login cookie is not signed in.
    attacker = client.application.test_client()
    attacker.set_cookie("tessera", before)
    assert "Signed in as" not in attacker.get("/").get_data(as_text=True)


def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    client: FlaskClient, auth: AuthActions, bob: object
) -> None:
    auth.login()
    copied = session_cookie(client)
    assert copied
    response = auth.logout()
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    replay = client.application.test_client()
    replay.set_cookie("tessera", copied)
    assert "Signed in as" not in replay.get("/").get_data(as_text=True)


def test_disabling_a_user_ends_their_sign_in(
    client: FlaskClient, auth: AuthActions, users: UserFactory, bob: object
) -> None:
    auth.login()
    assert "Signed in as" in client.get("/").get_data(as_text=True)
    users.disable("bob")
    assert "Signed in as" not in client.get("/").get_data(as_text=True)


def test_sign_in_without_csrf_token_is_refused(client: FlaskClient, bob: object) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "bob", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert "Signed in as" not in client.get("/").get_data(as_text=True)


def test_logout_requires_post(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_one_megabyte_password_is_refused_quickly(
    client: FlaskClient, auth: AuthActions, bob: object
) -> None:
    token = auth.login_form()
    started = time.perf_counter()
    response = client.post(
        "/login", data={"username": "bob", "password": "a" * 1_000_000, "csrf_token": token}
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)
    assert elapsed < 5  # generous: a guard against hashing 1 MB, not a benchmark


def test_long_but_allowed_password_fails_cleanly(auth: AuthActions, bob: object) -> None:
    response = auth.login(password="a" * 5000)
    assert response.status_code == 200
    assert "Invalid username or password." in response.get_data(as_text=True)


THROTTLED = "Too many sign-in attempts. Wait a few minutes, then try again."


def browser_at(client: FlaskClient, address: str) -> AuthActions:
    """A browser of its own at ``address``, on the same app as ``client``."""
    assert client.application is not None
    http = client.application.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return AuthActions(http)


def assert_throttled(response: TestResponse) -> None:
    assert response.status_code == 429, response.status_code
    assert THROTTLED in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert "Location" not in response.headers


class TestThrottle:
    """Only failed sign-ins count, per address and per account + address (LS-04, pen-test
    item 6): the right password is refused only at an address being slowed down."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, object]) -> dict[str, object]:
        return app_config | {
            "LOGIN_LIMIT_PER_ACCOUNT": "3 per hour",
            "LOGIN_LIMIT_PER_IP": "5 per hour",
        }

    def test_account_is_throttled_at_an_address_after_repeated_failures(
        self, client: FlaskClient, auth: AuthActions, bob: object
    ) -> None:
        for _ in range(3):
            assert auth.login(password="wrong password!").status_code == 200
        assert_throttled(auth.login())  # at this address even the right password waits
        assert "Signed in as" not in client.get("/").get_data(as_text=True)

    def test_successful_sign_ins_never_count(self, auth: AuthActions, bob: object) -> None:
        """Re-authentication, several apps, lost cookies: the right password always works."""
        assert [auth.login().status_code for _ in range(30)] == [303] * 30

    def test_a_success_clears_the_failures_of_its_account_and_address(
        self, auth: AuthActions, bob: object
    ) -> None:
        for _ in range(2):
            assert auth.login(password="wrong password!").status_code == 200
        assert auth.login().status_code == 303
        for _ in range(2):
            assert auth.login(password="wrong password!").status_code == 200
        assert auth.login().status_code == 303

    def test_failures_at_one_address_never_stop_the_owner_at_another(
        self, client: FlaskClient, bob: object
    ) -> None:
        attacker = browser_at(client, "10.0.0.66")
        for _ in range(3):
            assert attacker.login(password="wrong password!").status_code == 200
        assert_throttled(attacker.login(password="wrong password!"))
        assert browser_at(client, "10.0.0.2").login().status_code == 303

    def test_an_ipv6_attacker_cannot_rotate_addresses_within_its_64(
        self, client: FlaskClient, bob: object
    ) -> None:
        """One host holds a whole /64; its addresses count as one, other networks do not."""
        for host in range(1, 4):
            guess = browser_at(client, f"2001:db8:0:1::{host}").login(password="wrong password!")
            assert guess.status_code == 200
        assert_throttled(browser_at(client, "2001:db8:0:1::99").login(password="wrong password!"))
        assert browser_at(client, "2001:db8:0:2::1").login().status_code == 303

    def test_account_throttle_is_per_account(self, auth: AuthActions, users: UserFactory) -> None:
        users.create("bob")
        users.create("carol")
        for _ in range(3):
            auth.login(username="bob", password="wrong password!")
        assert auth.login(username="carol").status_code == 303

    def test_unknown_usernames_count_and_look_the_same_when_throttled(
        self, client: FlaskClient, bob: object
    ) -> None:
        """Same status, page and headers for an account that exists and one that does not."""
        answers = []
        for username, address in (("bob", "10.0.0.7"), ("nobody", "10.0.0.8")):
            browser = browser_at(client, address)
            for _ in range(3):
                assert browser.login(username, "wrong password!").status_code == 200
            answers.append(browser.login(username, "wrong password!"))
        for answer in answers:
            assert_throttled(answer)
        known, unknown = answers
        assert known.get_data() == unknown.get_data()
        assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())

    def test_many_accounts_signing_in_from_one_address_all_succeed(
        self, auth: AuthActions, users: UserFactory
    ) -> None:
        """Sixty people behind one office NAT do not lock each other out."""
        names = [f"user{i}" for i in range(8)]
        for name in names:
            users.create(name)
        assert [auth.login(username=name).status_code for name in names] == [303] * 8

    def test_client_ip_is_throttled_across_accounts(
        self, client: FlaskClient, auth: AuthActions, bob: object
    ) -> None:
        statuses = [
            auth.login(username=f"user{i}", password="wrong password!").status_code
            for i in range(6)
        ]
        assert statuses == [200] * 5 + [429]
        assert_throttled(auth.login())
        assert browser_at(client, "10.0.0.2").login().status_code == 303

    def test_viewing_the_form_is_not_throttled(self, client: FlaskClient) -> None:
        assert all(client.get("/login").status_code == 200 for _ in range(10))


@pytest.mark.limits(LOGIN_LIMIT_PER_ACCOUNT="3 per 2 seconds", LOGIN_LIMIT_PER_IP="10 per hour")
def test_the_owner_signs_in_again_once_the_address_delay_has_passed(
    client: FlaskClient, bob: object, clock: Clock
) -> None:
    """The issue's scenario: 30 sign-ins pass; guesses from A are slowed down while the owner
    at B signs in; at A the owner signs in again after A's delay."""
    at_a, at_b = browser_at(client, "10.0.0.10"), browser_at(client, "10.0.0.11")
    assert [at_a.login().status_code for _ in range(30)] == [303] * 30
    for _ in range(3):
        assert at_a.login(password="wrong password!").status_code == 200
    assert_throttled(at_a.login())
    assert at_b.login().status_code == 303
    clock.advance(2.1)
    assert at_a.login().status_code == 303


@pytest.mark.live
def test_unreachable_throttle_store_falls_back_to_worker_memory(
    app_config: dict[str, object], instance_path: Path, tmp_path: Path, bob: object
) -> None:
    """Redis down never breaks sign-in: counters fall back to the worker's memory.

    Run in a separate one-worker gunicorn, so the fallback state stays out of this process.
    """
    settings = app_config | {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
        "LOGIN_LIMIT_PER_ACCOUNT": "2 per hour",
    }
    server = LiveServer(live_settings(settings, instance_path), tmp_path / "g.log", workers=1)
    server.start()
    try:
        with requests.Session() as browser:
            statuses = [
                sign_in_at(browser, server.url, "bob", password)
                for password in (DEFAULT_PASSWORD, "wrong password!", "wrong!", DEFAULT_PASSWORD)
            ]
    finally:
        server.stop()
    assert statuses == [303, 200, 200, 429]


@pytest.mark.limits(
    RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False
)
def test_unreachable_throttle_store_without_fallback_is_a_503(
    auth: AuthActions, bob: object
) -> None:
    """Counting nowhere would let guesses through unthrottled: refuse the attempt instead."""
    response = auth.login()
    assert response.status_code == 503
    assert "Traceback" not in response.get_data(as_text=True)

"""Faults under load (docs/security.md §3 F1-F5; RL-03): what a client notices when a worker,
the whole server, the database's connections or Redis die, or the server is told to stop.

Each test runs Tessera under gunicorn on the test's database (SQLite and PostgreSQL) and
drives it from a few threads with bounded request counts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import Photo
from tests.api.conftest import image_bytes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.live import LiveServer, live_settings
from tests.oauth.helpers import OAuthActions, RegisteredClient
from tests.reliability.fault_support import (
    HeldRequest,
    Load,
    Outcomes,
    PrivateRedis,
    access_token_at,
    arbiter_pid,
    basic,
    client_credentials,
    crash,
    csrf_and_cookies,
    introspect,
    is_postgresql,
    json_body,
    list_photos,
    multipart,
    psycopg_dsn,
    refresh,
    refresh_tokens_for,
    running,
    sign_in_attempt,
    sqlite_path,
    wait_until,
    worker_pids,
)

pytestmark = [pytest.mark.reliability, pytest.mark.live]

GRACEFUL_TIMEOUT = 5  # tests.live.LiveServer starts gunicorn with --graceful-timeout 5


# A database server's faults: these tests have no SQLite variant.
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def server_for(
    app_config: dict[str, Any], instance_path: Path, log: Path, workers: int = 2, **settings: Any
) -> LiveServer:
    return LiveServer(live_settings(app_config | settings, instance_path), log, workers=workers)


def assert_no_server_errors(outcomes: Outcomes, allowed: frozenset[int] = frozenset()) -> None:
    """No 5xx (but those ``allowed``) and no traceback in any answer the load received."""
    bad = [answer for answer in outcomes.server_errors() if answer.status not in allowed]
    assert not bad, f"{len(bad)} server errors, first: {bad[0]}"
    traced = [a for a in outcomes.answers if "Traceback" in a.body]
    assert not traced, f"a traceback reached a client: {traced[0]}"


# -- F1: kill -9 one worker ---------------------------------------------------------------

WORKER_KILLS = 3


def replaced(arbiter: int, victim: int, workers: int) -> Callable[[], bool]:
    """A condition: the arbiter has ``workers`` live workers again, ``victim`` not among them."""

    def condition() -> bool:
        alive = worker_pids(arbiter)
        return len(alive) == workers and victim not in alive

    return condition


def test_killing_a_worker_fails_only_its_in_flight_request(
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    """kill -9 of one of 3 workers, 3 times, while 8 threads list photos: every answer is
    200, at most one request per kill fails (a reset), and the arbiter replaces the worker."""
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    server = server_for(app_config, instance_path, tmp_path / "gunicorn.log", workers=3)
    with running(server):
        token, _ = access_token_at(server.url, conf, refresh_token)
        arbiter = arbiter_pid(server)

        def work(_: int, session: requests.Session, outcomes: Outcomes) -> None:
            outcomes.answer("photos", list_photos(session, server.url, token))

        killed: list[int] = []
        with Load(work, threads=8, per_thread=150) as load:
            for _ in range(WORKER_KILLS):
                load.wait_for_answers(30)
                victim = min(worker_pids(arbiter))
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                wait_until(
                    replaced(arbiter, victim, workers=3), 30, f"a worker in place of {victim}"
                )
            load.wait_for_answers(30)
        outcomes = load.stop()
        assert worker_pids(arbiter).isdisjoint(killed)
        assert len(worker_pids(arbiter)) == 3
    assert_no_server_errors(outcomes)
    assert set(outcomes.statuses()) == {200}, outcomes.statuses()
    assert len(outcomes.errors) <= WORKER_KILLS, outcomes.errors
    # A reset before or during the answer: the request died with its worker.
    assert set(outcomes.errors) <= {"ConnectionError", "ChunkedEncodingError"}, outcomes.errors


# -- F2: kill -9 the whole server, restart ------------------------------------------------


@dataclass
class Family:
    """One refresh-token family as the client sees it while rotating."""

    current: str
    used: list[str] = field(default_factory=list)
    access_tokens: list[str] = field(default_factory=list)
    in_flight: bool = False  # the last rotation died with the server: its outcome is unknown


def test_kill_9_of_the_whole_server_loses_no_issued_token(
    database_url: str,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    cc: RegisteredClient,
    bob: Any,
) -> None:
    """kill -9 of arbiter and workers mid-load (client_credentials and refresh rotations),
    then a restart on the same database: every access token answered 200 still works, every
    refresh token already used is refused, none is redeemable twice; SQLite is intact."""
    families = [Family(token) for token in refresh_tokens_for(oauth, conf, 4)]
    cc_tokens: list[list[str]] = [[] for _ in range(4)]
    server = server_for(app_config, instance_path, tmp_path / "before-crash.log")

    def work(index: int, session: requests.Session, outcomes: Outcomes) -> None:
        if index < 4:
            response = outcomes.answer("cc", client_credentials(session, server.url, cc))
            if response.status_code == 200:
                cc_tokens[index].append(response.json()["access_token"])
            return
        family = families[index - 4]
        family.in_flight = True
        response = outcomes.answer("refresh", refresh(session, server.url, conf, family.current))
        family.in_flight = False
        if response.status_code == 200:
            body = response.json()
            family.used.append(family.current)
            family.current = body["refresh_token"]
            family.access_tokens.append(body["access_token"])

    with running(server):
        with Load(work, threads=8, per_thread=100, stop_on_error=True) as load:
            load.wait_for_answers(120)
            crash(server)
        outcomes = load.stop()
    assert_no_server_errors(outcomes)
    assert set(outcomes.statuses()) == {200}, outcomes.statuses()
    issued = sum(map(len, cc_tokens)) + sum(len(f.access_tokens) for f in families)
    assert issued >= 60, f"only {issued} tokens were issued before the crash"
    if not is_postgresql(database_url):
        with sqlite3.connect(sqlite_path(database_url)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    server.log_path = tmp_path / "after-crash.log"
    with running(server), requests.Session() as session:
        for token in (t for tokens in cc_tokens for t in tokens):
            assert introspect(server.url, cc, token)["active"] is True
        for family in families:
            for token in family.access_tokens:
                assert list_photos(session, server.url, token).status_code == 200
        for family in families:
            # The newest refresh token: once at most, and exactly once if it never left.
            first = refresh(session, server.url, conf, family.current)
            second = refresh(session, server.url, conf, family.current)
            assert second.status_code == 400, second.text
            if not family.in_flight:
                assert first.status_code == 200, first.text
            assert first.status_code in (200, 400), first.text
            for used in family.used:
                replay = refresh(session, server.url, conf, used)
                assert replay.status_code == 400, replay.text
                assert replay.json()["error"] == "invalid_grant"


# -- F3: the database drops the app's connections -----------------------------------------

TERMINATIONS = 3
RECOVERY_SECONDS = 5


def terminate_app_connections(dsn: str) -> int:
    """pg_terminate_backend on every other connection to the test database; how many."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@POSTGRESQL_ONLY
def test_database_connections_terminated_under_load(
    database_url: str,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    cc: RegisteredClient,
    bob: Any,
) -> None:
    """pg_terminate_backend on all app connections, 3 times, under reads and writes: each
    answer is 200 or a 503 JSON with Retry-After, never a 500 or a traceback, no connection
    resets; within 5 s of the last cut, requests succeed again."""
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    server = server_for(app_config, instance_path, tmp_path / "gunicorn.log")
    with running(server):
        token, _ = access_token_at(server.url, conf, refresh_token)

        def work(index: int, session: requests.Session, outcomes: Outcomes) -> None:
            if index % 2:
                outcomes.answer("photos", list_photos(session, server.url, token))
            else:
                outcomes.answer("cc", client_credentials(session, server.url, cc))

        with Load(work, threads=8, per_thread=150) as load:
            for _ in range(TERMINATIONS):
                load.wait_for_answers(40)
                assert terminate_app_connections(psycopg_dsn(database_url)) > 0
            with requests.Session() as session:
                wait_until(
                    lambda: list_photos(session, server.url, token).status_code == 200,
                    RECOVERY_SECONDS,
                    "the API to answer 200 again after the last termination",
                )
                load.wait_for_answers(20)
                after = Counter(
                    list_photos(session, server.url, token).status_code for _ in range(10)
                )
        outcomes = load.stop()
    assert after == {200: 10}, after
    assert_no_server_errors(outcomes, allowed=frozenset({503}))
    assert not outcomes.errors, outcomes.errors
    assert set(outcomes.statuses()) <= {200, 503}, outcomes.statuses()
    for answer in outcomes.answers:
        if answer.status == 503:
            assert answer.content_type.startswith("application/json"), answer
            assert '"temporarily_unavailable"' in answer.body, answer
            assert answer.retry_after is not None, answer


@contextmanager
def database_outage(database_url: str) -> Iterator[None]:
    """The test database refuses every connection (and drops the open ones) until the block
    ends; connections are allowed again however the block ends."""
    name = make_url(database_url).database
    maintenance = psycopg_dsn(database_url, database="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    try:
        yield
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@POSTGRESQL_ONLY
def test_database_outage_answers_503_and_recovers(
    database_url: str,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    cc: RegisteredClient,
    bob: Any,
) -> None:
    """While PostgreSQL refuses connections, every call that needs it is a 503 (JSON for
    clients) whose Retry-After is no longer than the recovery takes; 5 s after the database
    is back, the same calls succeed."""
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    server = server_for(app_config, instance_path, tmp_path / "gunicorn.log")
    with running(server), requests.Session() as session:
        token, _ = access_token_at(server.url, conf, refresh_token)
        calls: dict[str, Callable[[], requests.Response]] = {
            "api": lambda: list_photos(session, server.url, token),
            "token": lambda: client_credentials(session, server.url, cc),
            "introspect": lambda: session.post(
                f"{server.url}/introspect", data={"token": token}, auth=basic(conf), timeout=15
            ),
            "healthz": lambda: session.get(f"{server.url}/healthz", timeout=15),
        }
        with database_outage(database_url):
            during = {name: call() for name, call in calls.items()}
            sign_in = sign_in_attempt(session, server.url, "bob", DEFAULT_PASSWORD)
        wait_until(
            lambda: all(call().status_code == 200 for call in calls.values()),
            RECOVERY_SECONDS,
            "every call to succeed once the database is back",
        )
    for name, answer in during.items():
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
        assert answer.headers["Content-Type"].startswith("application/json"), name
        assert answer.json()["error"] == "temporarily_unavailable", name
    assert sign_in.status_code == 503, sign_in.status_code
    assert "Traceback" not in sign_in.text
    retry_after = {
        name: answer.headers.get("Retry-After")
        for name, answer in [*during.items(), ("sign-in", sign_in)]
    }
    assert None not in retry_after.values(), retry_after
    overstated = {name: v for name, v in retry_after.items() if int(v or 0) > RECOVERY_SECONDS}
    assert not overstated, f"Retry-After longer than the outage lasts: {overstated}"


# -- F4: Redis goes away -----------------------------------------------------------------

ACCOUNT_LIMIT = 3
LIVE_WORKERS = 2


def test_rate_limit_storage_lost_under_load(
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    cc: RegisteredClient,
    users: UserFactory,
    bob: Any,
) -> None:
    """Redis killed (by PID) under sign-in and token load: no 5xx; the sign-in throttle
    still answers 429 (counted per worker now); a refresh token is still single use."""
    users.create("alice")
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    limits = PrivateRedis().start()
    try:
        server = server_for(
            app_config,
            instance_path,
            tmp_path / "gunicorn.log",
            workers=LIVE_WORKERS,
            RATELIMIT_STORAGE_URI=limits.url,
            LOGIN_LIMIT_PER_ACCOUNT=f"{ACCOUNT_LIMIT} per hour",
        )
        with running(server):
            with requests.Session() as browser:
                shared = [
                    sign_in_attempt(browser, server.url, "bob", "wrong password").status_code
                    for _ in range(ACCOUNT_LIMIT + 1)
                ]
            assert shared == [200] * ACCOUNT_LIMIT + [429], "Redis counts for both workers"

            def work(index: int, session: requests.Session, outcomes: Outcomes) -> None:
                if index < 3:
                    name = f"load{index}-{outcomes.count}"
                    outcomes.answer("login", sign_in_attempt(session, server.url, name, "wrong"))
                else:
                    outcomes.answer("cc", client_credentials(session, server.url, cc))

            with Load(work, threads=6, per_thread=60) as load:
                load.wait_for_answers(20)
                limits.kill()
                load.wait_for_answers(60)
            outcomes = load.stop()

            attempts = 2 * LIVE_WORKERS * ACCOUNT_LIMIT
            with requests.Session() as browser:
                answers = [
                    sign_in_attempt(browser, server.url, "alice", "wrong password")
                    for _ in range(attempts)
                ]
            racers = redeem_concurrently(server.url, conf, refresh_token, 8)
    finally:
        limits.kill()

    statuses = Counter(answer.status_code for answer in answers)
    assert_no_server_errors(outcomes)
    assert not outcomes.errors, outcomes.errors
    assert {a.status for a in outcomes.answers if a.label == "cc"} == {200}
    assert {a.status for a in outcomes.answers if a.label == "login"} <= {200, 429}
    assert set(statuses) <= {200, 429}, statuses
    # Each worker now counts alone: at most the limit per worker gets through.
    assert statuses[200] <= LIVE_WORKERS * ACCOUNT_LIMIT, statuses
    assert statuses[429] >= attempts - LIVE_WORKERS * ACCOUNT_LIMIT, statuses
    assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 429)
    assert sorted(racers) == [200] + [400] * 7, racers


def redeem_concurrently(
    base_url: str, client: RegisteredClient, refresh_token: str, n: int
) -> list[int]:
    """``n`` threads present the same refresh token at once; their statuses."""
    start = threading.Barrier(n)
    statuses: list[int] = []

    def redeem() -> None:
        with requests.Session() as session:
            start.wait(timeout=10)
            statuses.append(refresh(session, base_url, client, refresh_token).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


# -- F5: SIGTERM under load ---------------------------------------------------------------


def test_sigterm_lets_in_flight_requests_finish(
    app: Flask,
    app_config: dict[str, Any],
    instance_path: Path,
    tmp_path: Path,
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
) -> None:
    """SIGTERM to the arbiter while a photo upload and a sign-in (argon2) are half-sent and
    accepted by workers: both get complete answers, every worker exits on its own within the
    graceful timeout, and the photo store has a file for every row and a row for every file."""
    (refresh_token,) = refresh_tokens_for(oauth, conf, 1)
    server = server_for(app_config, instance_path, tmp_path / "gunicorn.log", workers=3)
    with running(server):
        token, _ = access_token_at(server.url, conf, refresh_token)
        content_type, photo = multipart("file", "held.png", "image/png", image_bytes())
        with requests.Session() as browser:
            csrf = csrf_and_cookies(browser, server.url)
            cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        form = urlencode({"username": "bob", "password": DEFAULT_PASSWORD, "csrf_token": csrf})

        def work(_: int, session: requests.Session, outcomes: Outcomes) -> None:
            outcomes.answer("photos", list_photos(session, server.url, token))

        with (
            HeldRequest(
                server.port, "POST", "/api/v1/photos",
                {"Authorization": f"Bearer {token}", "Content-Type": content_type}, photo,
            ) as upload,
            HeldRequest(
                server.port, "POST", "/login",
                {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                form.encode(),
            ) as sign_in,
            Load(work, threads=4, per_thread=100, stop_on_error=True) as load,
        ):  # fmt: skip
            load.wait_for_answers(20)
            upload.send_first_part()
            sign_in.send_first_part()
            wait_until(
                lambda: upload.accepted() and sign_in.accepted(), 10, "workers to accept both"
            )
            assert server.process is not None
            os.kill(server.process.pid, signal.SIGTERM)
            upload_status, _, upload_body = upload.finish()
            sign_in_status, sign_in_headers, _ = sign_in.finish()
            exit_code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
        outcomes = load.stop()
    assert upload_status == 201, upload_body[:500]
    assert sign_in_status == 303, sign_in_status
    assert sign_in_headers["location"] == "/"
    assert "tessera=" in sign_in_headers.get("set-cookie", "")
    assert exit_code == 0, server.log()
    assert server.log().count("Worker exiting") == 3, server.log()
    assert_no_server_errors(outcomes)
    assert set(outcomes.statuses()) <= {200}, outcomes.statuses()

    photo_id = json_body(upload_body)["id"]
    with app.app_context():
        rows = set(db.session.scalars(select(Photo.id)))
    files = {p.name for p in (instance_path / "photos").rglob("*") if p.is_file()}
    assert rows == files == {photo_id}

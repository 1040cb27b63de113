"""Shared pieces of the fault and two-instance tests (a plain module, imported by them).

Bounded load from a few threads, gunicorn worker PIDs from /proc, a private redis-server
stopped by its PID, a raw-socket request that can be held open half-sent, and the OAuth
calls a client makes against a live server. Nothing here sleeps to synchronise: every wait
polls a condition under a deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
import requests
from sqlalchemy.engine import make_url

from tests.helpers import csrf_token_from, skip_or_fail
from tests.live import LiveServer, free_port
from tests.oauth.helpers import OAuthActions, RegisteredClient

T = TypeVar("T")

USER_SCOPE = "openid offline_access photos.read photos.write"
REQUEST_TIMEOUT = 15


def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def psycopg_dsn(database_url: str, database: str | None = None) -> str:
    """The test database's SQLAlchemy URL as a libpq DSN (optionally for another database)."""
    url = make_url(database_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    assert database, database_url
    return Path(database)


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``condition`` every 20 ms until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# -- gunicorn processes -------------------------------------------------------------------


def worker_pids(arbiter_pid: int) -> set[int]:
    """PIDs of the arbiter's live children (its workers)."""
    path = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children")
    try:
        return {int(pid) for pid in path.read_text().split()}
    except FileNotFoundError:
        return set()


def arbiter_pid(server: LiveServer) -> int:
    assert server.process is not None and server.process.poll() is None, "server is not running"
    return server.process.pid


@contextmanager
def running(server: LiveServer) -> Iterator[LiveServer]:
    """Start ``server`` and stop it (its process group, by PID) however the test ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_together(*servers: LiveServer) -> Iterator[tuple[LiveServer, ...]]:
    """Start several servers at once (their boots overlap), stop them all at once at the end."""
    failures: list[BaseException] = []

    def start(server: LiveServer) -> None:
        try:
            server.start()
        except BaseException as exc:
            failures.append(exc)

    try:
        _in_parallel(start, servers)
        if failures:
            raise failures[0]
        yield servers
    finally:
        _in_parallel(LiveServer.stop, servers)


def _in_parallel(action: Callable[[LiveServer], None], servers: tuple[LiveServer, ...]) -> None:
    threads = [threading.Thread(target=action, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def crash(server: LiveServer) -> None:
    """kill -9 the server's whole process group: arbiter and workers, no clean-up at all."""
    assert server.process is not None
    workers = worker_pids(server.process.pid)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    wait_until(lambda: not any(map(_running, workers)), 10, "the killed workers to die")


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (whoever reaps it, it holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


# -- bounded load -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one request got back: enough to judge it after the load has stopped."""

    label: str
    status: int
    content_type: str
    retry_after: str | None
    body: str

    @classmethod
    def of(cls, label: str, response: requests.Response) -> Answer:
        return cls(
            label,
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.headers.get("Retry-After"),
            response.text[:2000],
        )


@dataclass
class Outcomes:
    """Every answer and transport error seen by the load threads (thread-safe)."""

    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, label: str, response: requests.Response) -> requests.Response:
        with self.lock:
            self.answers.append(Answer.of(label, response))
        return response

    def error(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(type(exc).__name__)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.answers) + len(self.errors)

    def statuses(self) -> Counter[int]:
        with self.lock:
            return Counter(answer.status for answer in self.answers)

    def server_errors(self) -> list[Answer]:
        with self.lock:
            return [answer for answer in self.answers if answer.status >= 500]


class Load:
    """``threads`` threads calling ``work(thread_index, session, outcomes)`` until stopped.

    Bounded twice: at most ``per_thread`` calls per thread and ``seconds`` of wall time.
    Transport errors (connection reset, refused) are recorded, not raised; with
    ``stop_on_error`` a thread ends at its first one (the server is going away for good).
    """

    def __init__(
        self,
        work: Callable[[int, requests.Session, Outcomes], None],
        threads: int = 8,
        per_thread: int = 200,
        seconds: float = 20,
        stop_on_error: bool = False,
    ) -> None:
        self.work = work
        self.stop_on_error = stop_on_error
        self.outcomes = Outcomes()
        self.stop_event = threading.Event()
        self.per_thread = per_thread
        self.deadline = time.monotonic() + seconds
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]
        self.failures: list[BaseException] = []

    def _run(self, index: int) -> None:
        with requests.Session() as session:
            for _ in range(self.per_thread):
                if self.stop_event.is_set() or time.monotonic() > self.deadline:
                    return
                try:
                    self.work(index, session, self.outcomes)
                except requests.RequestException as exc:
                    self.outcomes.error(exc)
                    if self.stop_on_error:
                        return
                except BaseException as exc:  # an assertion in work(): report it after join
                    self.failures.append(exc)
                    return

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> Outcomes:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a load thread hung"
        if self.failures:
            raise self.failures[0]
        return self.outcomes

    def wait_for_answers(self, n: int, timeout: float = 30) -> None:
        """Block until at least ``n`` more calls have finished (so the load is really on)."""
        target = self.outcomes.count + n
        wait_until(lambda: self.outcomes.count >= target, timeout, f"{n} more answers")


# -- OAuth as a client of a live server ---------------------------------------------------


def basic(client: RegisteredClient) -> tuple[str, str]:
    assert client.client_secret is not None
    return client.client_id, client.client_secret


def refresh_tokens_for(
    oauth: OAuthActions, client: RegisteredClient, families: int, username: str = "bob"
) -> list[str]:
    """``families`` separate authorizations (code flow in the test app), one refresh token each."""
    return [
        str(oauth.tokens_for(client, username=username, scope=USER_SCOPE)["refresh_token"])
        for _ in range(families)
    ]


def refresh(
    session: requests.Session, base_url: str, client: RegisteredClient, refresh_token: str
) -> requests.Response:
    return session.post(
        f"{base_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=basic(client),
        timeout=REQUEST_TIMEOUT,
    )


def client_credentials(
    session: requests.Session, base_url: str, client: RegisteredClient
) -> requests.Response:
    return session.post(
        f"{base_url}/token",
        data={"grant_type": "client_credentials"},
        auth=basic(client),
        timeout=REQUEST_TIMEOUT,
    )


def introspect(base_url: str, client: RegisteredClient, token: str) -> dict[str, Any]:
    response = requests.post(
        f"{base_url}/introspect", data={"token": token}, auth=basic(client), timeout=REQUEST_TIMEOUT
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def list_photos(session: requests.Session, base_url: str, access_token: str) -> requests.Response:
    return session.get(
        f"{base_url}/api/v1/photos",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=REQUEST_TIMEOUT,
    )


def access_token_at(base_url: str, client: RegisteredClient, refresh_token: str) -> tuple[str, str]:
    """(access token, next refresh token) from one rotation at ``base_url``."""
    with requests.Session() as session:
        response = refresh(session, base_url, client, refresh_token)
    assert response.status_code == 200, response.text
    body = response.json()
    return str(body["access_token"]), str(body["refresh_token"])


def csrf_and_cookies(session: requests.Session, base_url: str) -> str:
    """GET /login: the session cookie lands in ``session``; returns the form's CSRF token."""
    return csrf_token_from(session.get(f"{base_url}/login", timeout=REQUEST_TIMEOUT).text)


def sign_in_attempt(
    session: requests.Session, base_url: str, username: str, password: str
) -> requests.Response:
    """One try at the real sign-in form (fresh CSRF token from the same session)."""
    token = csrf_and_cookies(session, base_url)
    form = {"username": username, "password": password, "csrf_token": token}
    return session.post(
        f"{base_url}/login", data=form, allow_redirects=False, timeout=REQUEST_TIMEOUT
    )


# -- a private Redis --------------------------------------------------------------------


class PrivateRedis:
    """A throwaway redis-server on a free loopback port, killed by its PID."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        if shutil.which("redis-server") is None:
            skip_or_fail("this test runs its own redis-server (apt-get install redis-server)")
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, 10, "the private redis-server to answer PING")
        return self

    def _answers(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """kill -9, by PID."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


# -- requests held open half-sent ---------------------------------------------------------


class HeldRequest:
    """An HTTP/1.1 request written over a raw socket in two parts, the rest held back.

    ``accepted`` tells, from /proc/net/tcp, whether a server process has accept()ed the
    connection: a socket still in the listen queue has inode 0 there.
    """

    def __init__(
        self, port: int, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.port = port
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.body = body
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT)
        self.client_port = self.sock.getsockname()[1]

    def send_first_part(self) -> None:
        self.sock.sendall(self.head + self.body[: len(self.body) // 2])

    def accepted(self) -> bool:
        server_side = f"0100007F:{self.port:04X}"
        client_side = f"0100007F:{self.client_port:04X}"
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == server_side and fields[2] == client_side:
                return fields[9] != "0"
        return False

    def finish(self) -> tuple[int, dict[str, str], bytes]:
        """Send the rest; read the whole answer: (status, headers, body)."""
        self.sock.sendall(self.body[len(self.body) // 2 :])
        chunks = []
        while chunk := self.sock.recv(65536):
            chunks.append(chunk)
        self.sock.close()
        raw = b"".join(chunks)
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            assert len(body) == int(headers["content-length"]), "the answer was cut short"
        return int(status_line.split()[1]), headers, body

    def __enter__(self) -> HeldRequest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()


def multipart(field_name: str, filename: str, content_type: str, data: bytes) -> tuple[str, bytes]:
    """A one-file multipart/form-data body: (Content-Type header, body)."""
    boundary = "tessera-" + secrets.token_hex(8)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def json_body(body: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(body)
    return loaded

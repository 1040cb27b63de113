"""A real Tessera under gunicorn on a free loopback port, stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from app import security
from tests.lanes import CHEAP_HASHER, in_fast_lane

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_settings(app_config: dict[str, Any], instance_path: Path) -> dict[str, str]:
    """A test app's settings as FLASK_* variables for a server or CLI subprocess."""
    env = {
        f"FLASK_{key}": _env_value(value) for key, value in app_config.items() if key != "TESTING"
    }
    return env | {"FLASK_INSTANCE_PATH": str(instance_path)}


def _env_value(value: Any) -> str:
    """As FLASK_* variables are read (JSON, else the text): True stays a boolean, not "True"."""
    return value if isinstance(value, str) else json.dumps(value)


def flask_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``flask --app wsgi ARGS`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env=os.environ | env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


class LiveServer:
    starts = 0  # gunicorn arbiters started by this test process (printed at the session's end)

    def __init__(
        self, settings: dict[str, str], log_path: Path, workers: int = 2, access_log: bool = False
    ) -> None:
        """``access_log``: gunicorn's access log goes to ``log_path`` too (``make run`` has the
        request log instead, on stdout, which goes to ``log_path`` either way)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = settings | {"FLASK_OAUTH_ISSUER": self.url}
        self.log_path = log_path
        self.workers = workers
        self.access_log = access_log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> LiveServer:
        if in_fast_lane():
            raise RuntimeError("the fast lane starts no gunicorn: mark this test live")
        if security._hasher is CHEAP_HASHER:
            raise RuntimeError(
                "mark this test live: its users got the cheap test hasher, which gunicorn "
                "would rehash on every sign-in"
            )
        LiveServer.starts += 1
        command = [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--graceful-timeout", "5", "--no-control-socket",
            "--preload", "--config", "gunicorn.conf.py",
            *(["--access-logfile", "-"] if self.access_log else []),
            "wsgi:app",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=os.environ | self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM the arbiter's process group (it was started as its own session)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SharedServers:
    """gunicorn servers kept for the whole run, one per distinct set of settings.

    Tests with the same settings (database, ``app_config``, worker count) share one server
    instead of starting their own (~2 s each). What a worker keeps between requests must
    then survive the per-test wipe of the database: the signing keys it caches are put
    back into each new test's database (``restore_keys``), and tests that narrow a memory
    throttle (``limits``) or ask for it (``fresh_server``) get a server of their own.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: dict[tuple[tuple[str, str], ...], LiveServer] = {}
        self.keys: dict[int, list[dict[str, Any]]] = {}  # signing-key rows, by server port

    def get(self, settings: dict[str, str], workers: int) -> LiveServer:
        key = (("workers", str(workers)),) + tuple(
            sorted((k, v) for k, v in settings.items() if k != "FLASK_INSTANCE_PATH")
        )
        server = self.servers.get(key)
        if server is None or server.process is None or server.process.poll() is not None:
            name = f"server{len(self.servers)}"
            shared = settings | {"FLASK_INSTANCE_PATH": str(self.root / name / "instance")}
            server = LiveServer(shared, self.root / f"{name}.log", workers=workers).start()
            self.servers[key] = server
        return server

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

"""The story's cast for browser tests: bob, PhotoPrint, and PhotoPrint's redirect endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.live import flask_cli

BOB_PASSWORD = "correct horse battery"
PHOTOPRINT_SCOPE = "openid profile offline_access photos.read photos.write"


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"PhotoPrint received the code"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def callback_url() -> Iterator[str]:
    """PhotoPrint's redirect endpoint: a tiny HTTP server on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


def register(cli_env: dict[str, str], callback: str, name: str = "PhotoPrint") -> dict[str, Any]:
    """bob (through ``users create``) and a client (through ``clients create``), as an operator
    would; returns the client information response."""
    user = flask_cli(cli_env, "users", "create", "bob", "--email", "bob@example.com",
                     "--password-stdin", stdin=BOB_PASSWORD + "\n")  # fmt: skip
    assert user.returncode == 0, user.stderr
    created = flask_cli(
        cli_env, "clients", "create", "--name", name, "--redirect-uri", callback,
        "--grant-types", "authorization_code,refresh_token", "--scope", PHOTOPRINT_SCOPE, "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    info: dict[str, Any] = json.loads(created.stdout)
    return info

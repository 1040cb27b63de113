"""A client's web site on 127.0.0.1, in a thread: serves its JWK Set, or misbehaves.

Paths: ``/jwks`` the JWK Set (``jwks``, with ``cache_control`` if set); ``/trickle`` one byte
every ``trickle_interval`` seconds until stopped; ``/redirect`` a 302 to ``/jwks``. Every
accepted connection and every request path is counted.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackSite:
    def __init__(self, trickle_interval: float = 0.5) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.cache_control: str | None = None
        self.trickle_interval = trickle_interval
        self.connections = 0
        self.paths: list[str] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        site = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                with site._lock:
                    site.connections += 1
                return True

        self._server = Server(("127.0.0.1", 0), _handler(self))
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LoopbackSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def hits(self, path: str) -> int:
        with self._lock:
            return self.paths.count(path)

    def record(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)


def _handler(site: LoopbackSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            site.record(self.path)
            if self.path == "/trickle":
                self._trickle()
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"{site.url}/jwks")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                body = json.dumps(site.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if site.cache_control:
                    self.send_header("Cache-Control", site.cache_control)
                self.end_headers()
                self.wfile.write(body)

        def _trickle(self) -> None:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 4:
                if site.stopped.wait(site.trickle_interval):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet."""

    return Handler

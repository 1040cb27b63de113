"""TesseraFlask keeps ``ensure_sync``'s answer, bounded, and still runs what Flask runs."""

from __future__ import annotations

from flask import Flask, after_this_request
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

from app.flask_app import TesseraFlask


def test_closures_made_per_request_do_not_grow_the_cache(app: Flask, client: FlaskClient) -> None:
    """/token's throttle registers an ``after_this_request`` closure on every request; a cache
    keyed by function kept each one (worker memory went from 50 to 73 MiB under make bench)."""
    form = {"grant_type": "client_credentials"}
    assert client.post("/token", data=form).status_code == 401
    size = len(app._synchronous)  # type: ignore[attr-defined]

    for _ in range(25):
        client.post("/token", data=form)

    assert len(app._synchronous) == size  # type: ignore[attr-defined]


def test_hooks_views_and_per_request_callbacks_still_run() -> None:
    app = TesseraFlask(__name__)
    seen: list[str] = []
    app.before_request(lambda: seen.append("before") and None)

    @app.get("/")
    def index() -> str:
        @after_this_request
        def mark(response: Response) -> Response:
            response.headers["X-Mark"] = str(len(seen))
            return response

        return "ok"

    answers = [app.test_client().get("/") for _ in range(3)]

    assert [(a.text, a.headers["X-Mark"]) for a in answers] == [
        ("ok", "1"),
        ("ok", "2"),
        ("ok", "3"),
    ]

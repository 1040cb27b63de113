"""PhotoPrint's callback against a live Tessera: a pushed request, then answers that must
be refused (RFC 6749 §10.12 state, RFC 9207 iss) with a page, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.examples.photoprint_support import running_photoprint
from tests.live import LiveServer

pytestmark = [pytest.mark.live]


def pending_state(app: Any) -> str:
    store = app.extensions["photoprint.store"]
    with store._db() as db:
        (row,) = db.execute("SELECT state FROM connection").fetchall()
    return str(row[0])


def test_the_callback_checks_state_then_issuer(
    live_server: LiveServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    with running_photoprint(live_server.url, cli_env, tmp_path / "photoprint") as (_, app):
        browser = app.test_client()
        started = browser.post("/connect")
        assert started.status_code == 302
        sent_to = urlsplit(started.headers["Location"])
        assert (
            f"{sent_to.scheme}://{sent_to.netloc}{sent_to.path}" == f"{live_server.url}/authorize"
        )
        assert set(parse_qs(sent_to.query)) == {"client_id", "request_uri"}  # RFC 9126 §4
        state = pending_state(app)

        answers = {
            "wrong state": (f"state=forged&code=c&iss={live_server.url}", "does not belong"),
            "no iss": (f"state={state}&code=c", "did not come from Tessera"),
            "other iss": (
                f"state={state}&code=c&iss=http://evil.test",
                "did not come from Tessera",
            ),
            "bad code": (f"state={state}&code=c&iss={live_server.url}", "invalid_grant"),
        }
        for name, (query, words) in answers.items():
            answer = browser.get(f"/callback?{query}")
            page = answer.get_data(as_text=True)
            assert answer.status_code == 400, name
            assert words in page, (name, page)
            assert "Connect again" in page and "Traceback" not in page

        stranger = app.test_client().get(f"/callback?state={state}&code=c&iss={live_server.url}")
        assert stranger.status_code == 400  # another browser has no pending request

"""`make run PORT=8000`: the default issuer follows the address served on, a set one wins.

gunicorn is started as the Makefile's ``run`` target starts it: ``FLASK_BIND=HOST:PORT`` and no
``OAUTH_ISSUER``. Discovery, ``jwks_uri`` and the token endpoint then name that port, and the
issuer is logged once at start. An operator's OAUTH_ISSUER (instance/config.py) is kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.live import PROJECT_ROOT, LiveServer, free_port, live_settings

pytestmark = pytest.mark.live

DISCOVERY = "/.well-known/openid-configuration"


def started_as_make_run(settings: dict[str, str], log: Path) -> LiveServer:
    server = LiveServer(settings, log)
    del server.env["FLASK_OAUTH_ISSUER"]  # LiveServer sets it; make run does not
    server.env["FLASK_BIND"] = f"127.0.0.1:{server.port}"
    return server.start()


def test_the_default_issuer_is_the_address_served_on_and_is_logged_once(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> None:
    server = started_as_make_run(live_settings(app_config, instance_path), tmp_path / "g.log")
    try:
        assert server.port != 5000
        meta = requests.get(server.url + DISCOVERY, timeout=10).json()
    finally:
        server.stop()
    assert meta["issuer"] == server.url
    assert meta["jwks_uri"] == f"{server.url}/jwks.json"
    assert meta["token_endpoint"] == f"{server.url}/token"
    assert server.log().count("Tessera's issuer: ") == 1
    assert f"Tessera's issuer: {server.url}\n" in server.log()


def test_an_issuer_the_operator_set_wins_over_the_address(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path
) -> None:
    instance_path.mkdir(parents=True, exist_ok=True)
    (instance_path / "config.py").write_text('OAUTH_ISSUER = "http://localhost:5000"\n')
    server = started_as_make_run(live_settings(app_config, instance_path), tmp_path / "g.log")
    try:
        meta = requests.get(server.url + DISCOVERY, timeout=10).json()
    finally:
        server.stop()
    assert meta["issuer"] == "http://localhost:5000"
    assert meta["token_endpoint"] == "http://localhost:5000/token"
    assert "Tessera's issuer: http://localhost:5000\n" in server.log()


def test_the_config_serves_an_app_that_is_not_tessera(tmp_path: Path) -> None:
    """`make bench` serves its bare Flask yardstick with gunicorn.conf.py too: the issuer hook
    must leave such an app alone (it once stopped the arbiter with a KeyError)."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--no-control-socket", "--preload", "--config", "gunicorn.conf.py", "bench.bare:app",
    ]  # fmt: skip
    LiveServer.starts += 1
    with (tmp_path / "g.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        answer = None
        for _ in range(300):
            if process.poll() is not None:
                break
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/hello", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    output = (tmp_path / "g.log").read_text()
    assert answer is not None and answer.json() == {"hello": "world"}, output
    assert "Tessera's issuer" not in output

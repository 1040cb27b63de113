"""`make run PORT=8000`: the default issuer follows the address served on, a set one wins.

gunicorn is started as the Makefile's ``run`` target starts it: ``FLASK_BIND=HOST:PORT`` and no
``OAUTH_ISSUER``. Discovery, ``jwks_uri`` and the token endpoint then name that port, and the
issuer is logged once at start. An operator's OAUTH_ISSUER (instance/config.py) is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.live import LiveServer, live_settings

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

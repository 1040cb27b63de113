"""``flask doctor``: a deployment checked against the documented rules (docs/operations.md
"flask doctor"), through the command line."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from flask import Flask

from tests.conftest import SECRET_KEY
from tests.helpers import reconfigure, skip_or_fail
from tests.lanes import Clock
from tests.live import flask_cli
from tests.oauth.helpers import OAuthActions, RegisteredClient


def doctor(app: Flask, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``flask doctor ARGS``; WEB_CONCURRENCY is unset unless ``env`` sets it."""
    environment: dict[str, str | None] = {"WEB_CONCURRENCY": None} | (env or {})
    result = app.test_cli_runner().invoke(args=["doctor", *args], env=environment)
    return result.exit_code, result.output


def lines(output: str) -> dict[str, tuple[str, str]]:
    """{check: (status, message)} from the one-line-per-check output."""
    found = {}
    for line in output.splitlines():
        status, check, message = line.split(maxsplit=2)
        found[check] = (status, message)
    return found


def test_a_default_config_passes(app: Flask) -> None:
    code, out = doctor(app)
    assert code == 0, out
    checks = lines(out)
    assert [status for status, _ in checks.values()].count("error") == 0
    assert set(checks) == {
        "issuer", "secret-key", "database", "rate-limit-storage", "replay-cache",
        "tokens-purge", "signing-keys", "par-dpop", "registration", "proxy",
    }  # fmt: skip
    assert checks["issuer"][0] == "warn"  # http on loopback: development only
    assert checks["tokens-purge"] == ("ok", "no expired rows waiting")
    assert checks["par-dpop"] == ("ok", "PAR enabled, optional; DPoP enabled, optional")


def test_the_secret_key_is_fingerprinted_never_printed(app: Flask) -> None:
    code, out = doctor(app)
    _, message = lines(out)["secret-key"]
    assert "compare this line across hosts" in message
    assert SECRET_KEY not in out and SECRET_KEY[:12] not in out
    other = "another secret key of at least 32 characters"
    reconfigure(app, SECRET_KEY=other)
    code, out = doctor(app, "--json")
    [finding] = [f for f in json.loads(out) if f["check"] == "secret-key"]
    assert finding["message"] != message  # another key, another fingerprint
    assert other not in out and other[:12] not in out


def test_a_bad_config_fails_with_the_right_lines(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    oauth.tokens_for(conf, scope="openid offline_access photos.read")
    # The refresh token expired 2 days ago and no purge ran.
    clock.advance(app.config["OAUTH_REFRESH_TOKEN_TTL"] + 2 * 86400)
    reconfigure(app, OAUTH_ISSUER="https://id.example.com", REGISTRATION_MODE="open")
    code, out = doctor(app, "--workers", "4")
    assert code == 1, out
    checks = lines(out)
    assert checks["issuer"][0] == "ok"
    status, message = checks["rate-limit-storage"]
    assert status == "error" and "4 times looser" in message and "redis://" in message
    status, message = checks["tokens-purge"]
    assert status == "error" and "days" in message and "flask tokens purge" in message
    assert checks["registration"][0] == "warn"
    assert checks["proxy"][0] == "warn" and "PROXY_FIX_X_FOR" in checks["proxy"][1]
    assert checks["signing-keys"][0] == "ok" and "next rotation" in checks["signing-keys"][1]


def test_purge_clears_the_error(app: Flask, clock: Clock) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["clients", "issue-registration-token", "--expires-in", "60"])
    clock.advance(60 + 3 * 3600)
    code, out = doctor(app)
    assert code == 0 and lines(out)["tokens-purge"][0] == "warn", out
    clock.advance(86400)
    code, out = doctor(app)
    assert code == 1 and "registration_tokens" in lines(out)["tokens-purge"][1], out
    assert runner.invoke(args=["tokens", "purge"]).exit_code == 0
    code, out = doctor(app)
    assert code == 0 and lines(out)["tokens-purge"] == ("ok", "no expired rows waiting"), out


def test_web_concurrency_declares_the_workers(app: Flask) -> None:
    code, out = doctor(app, env={"WEB_CONCURRENCY": "2"})
    assert code == 1 and lines(out)["rate-limit-storage"][0] == "error", out


def test_an_old_signing_key_is_due_for_rotation(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    oauth.tokens_for(conf, scope="openid")
    clock.advance(91 * 86400)
    code, out = doctor(app)
    status, message = lines(out)["signing-keys"]
    assert status == "warn" and "overdue" in message and "flask keys rotate" in message
    assert app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    assert lines(doctor(app)[1])["signing-keys"][0] == "ok"


def test_json_output(app: Flask) -> None:
    code, out = doctor(app, "--json", "--workers", "3")
    assert code == 1
    findings = json.loads(out)
    assert all(set(f) == {"check", "status", "message"} for f in findings)
    assert {f["check"]: f["status"] for f in findings}["rate-limit-storage"] == "error"
    assert SECRET_KEY not in out


def test_an_unreachable_redis_is_an_error(app: Flask) -> None:
    reconfigure(app, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    code, out = doctor(app, "--workers", "4")
    status, message = lines(out)["rate-limit-storage"]
    assert code == 1 and status == "error" and "Redis does not answer" in message, out


@pytest.mark.redis
def test_redis_for_limits_and_replay_caches_passes_with_many_workers(app: Flask) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("needs TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    reconfigure(app, RATELIMIT_STORAGE_URI=redis_url, REPLAY_CACHE_URI=redis_url)
    code, out = doctor(app, "--workers", "4", "--hosts", "1")
    checks = lines(out)
    assert code == 0, out
    assert checks["rate-limit-storage"] == ("ok", "Redis answers; shared by every worker and host")
    assert checks["replay-cache"] == ("ok", "Redis answers; shared by every worker and host")


def test_the_real_command_line(cli_env: dict[str, str]) -> None:
    """``flask --app wsgi doctor`` in a subprocess, as documented: the exit status is 1."""
    env = cli_env | {"WEB_CONCURRENCY": "2"}
    done = flask_cli(env, "doctor")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[3].split()[:2] == ["error", "rate-limit-storage"]
    assert flask_cli(env | {"WEB_CONCURRENCY": "1"}, "doctor").returncode == 0

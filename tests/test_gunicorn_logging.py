"""LG-01 for what the live test's default log format does not show: credential headers,
``Location`` and ``Referer`` in a custom ``access_log_format``, URLs in error messages.

gunicorn itself drives the logger here, with a real ``Config``, writing to real files.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from app.gunicorn_logging import Logger

ID_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
SECRETS = (ID_TOKEN, "s3cret-client", "BVMSMZZP", "refresh-xyz", "sess=abc", "dpop-proof")


def configured_logger(tmp_path: Path, access_format: str) -> Logger:
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("access_log_format", access_format)
    return Logger(cfg)


def test_access_log_atoms_hide_secret_query_values_and_credential_headers(
    tmp_path: Path,
) -> None:
    fmt = '"%(r)s" %(q)s "%(f)s" %({authorization}i)s %({cookie}i)s %({dpop}i)s ' + (
        "%({location}o)s %({set-cookie}o)s %({raw_uri}e)s %({query_string}e)s %({x-trace}i)s"
    )
    logger = configured_logger(tmp_path, fmt)
    query = f"id_token_hint={ID_TOKEN}&state=kept&Client_Secret=s3cret-client"
    headers = [
        ("AUTHORIZATION", "Basic s3cret-client"), ("COOKIE", "sess=abc"),
        ("DPOP", "dpop-proof"), ("REFERER", "https://id.test/device?user_code=BVMSMZZP"),
        ("X-TRACE", "t-1"),
    ]  # fmt: skip
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/end-session?{query}", "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/end-session", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "https://id.test/device?user_code=BVMSMZZP",
    }  # fmt: skip
    response = SimpleNamespace(
        status="302 FOUND",
        sent=0,
        headers=[
            ("Location", "https://app.test/cb?code=refresh-xyz&state=kept"),
            ("Set-Cookie", "sess=abc; HttpOnly"),
        ],
    )
    logger.access(response, SimpleNamespace(headers=headers), environ, timedelta(seconds=0))

    line = (tmp_path / "access.log").read_text()
    assert not [secret for secret in SECRETS if secret in line], line
    assert line.count("REDACTED") >= 10, line
    request_line = "GET /end-session?id_token_hint=REDACTED&state=kept&Client_Secret=REDACTED"
    assert f'"{request_line} HTTP/1.1"' in line
    assert "https://app.test/cb?code=REDACTED&state=kept" in line
    assert "t-1" in line  # other headers unchanged


def test_error_log_messages_hide_secret_query_values(tmp_path: Path) -> None:
    logger = configured_logger(tmp_path, "%(r)s")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s", f"/end-session?id_token_hint={ID_TOKEN}&a=1")
    logger.error("Invalid request from ip=1.2.3.4: /device?user_code=BVMSMZZP")
    text = (tmp_path / "error.log").read_text()
    assert ID_TOKEN not in text and "BVMSMZZP" not in text, text
    assert "/end-session?id_token_hint=REDACTED&a=1" in text
    assert "RuntimeError: boom" in text  # the traceback is kept

"""One log line per request (issue 16): which request, who made it, how it ended, how long.

:class:`RequestLog` wraps the WSGI app, outside Flask and its error handlers, so a request
whose view raised (500) or that a before_request hook refused (400, 413, 429) still gets its
line, and every response, error pages included, carries ``X-Request-ID``. The line is one
dict, created when the request arrives; code that learns something adds it through the
``note_*`` functions (the authenticated client, the user's ``sub``, an error code), a
teardown_request hook adds the matched URL rule before Flask drops the request, and the
middleware writes it once through the ``tessera.request`` logger: one ``json.dumps`` (or one
f-string for ``LOG_FORMAT = "text"``), one LogRecord.

What it never holds: the raw path or query (only the matched URL rule, e.g.
``/api/v1/photos/<photo_id>``), headers, cookies, form fields or any credential. The
request id is the client's ``X-Request-ID`` when it is 1 to 128 characters of
``[A-Za-z0-9._:-]`` (nothing that could forge a line or a field), else a fresh random one.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request

from app.settings import settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LOGGER_NAME = "tessera.request"
HEADER = "X-Request-ID"
JSON, TEXT = "json", "text"
LOG_FORMATS = (JSON, TEXT)
_LINE = "tessera.request_log"  # the WSGI environ key of the request's line
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}").fullmatch
_encode = json.JSONEncoder(separators=(",", ":")).encode  # compact, ASCII only: one line
_TEXT_EXTRAS = ("client_id", "sub", "error")

log = logging.getLogger(LOGGER_NAME)

Line = dict[str, Any]


def request_id(incoming: str | None) -> str:
    """The client's ``X-Request-ID`` if it is safe to log and echo, else a fresh one."""
    if incoming and _SAFE_ID(incoming):
        return incoming
    return secrets.token_hex(16)


_second: tuple[int, str] = (-1, "")  # the last second formatted, reused for its other lines


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds: 2026-12-05T11:40:01.123Z."""
    global _second
    second, cached = int(now), _second  # one read: another thread may replace it
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


def render_json(line: Line) -> str:
    return _encode(line)


def render_text(line: Line) -> str:
    """``2026-12-05T11:40:01.123Z INFO GET /api/v1/photos 200 3.1 ms client_id=.. id=..``"""
    extras = "".join(f" {key}={line[key]}" for key in _TEXT_EXTRAS if key in line)
    return (
        f"{line['timestamp']} {line['level']} {line['method']} {line['route'] or '-'} "
        f"{line['status']} {line['duration_ms']} ms{extras} request_id={line['request_id']}"
    )


RENDERERS: dict[str, Callable[[Line], str]] = {JSON: render_json, TEXT: render_text}


class RequestLog:
    """WSGI middleware: the request's line, written when the app has answered."""

    def __init__(self, app: WSGIApplication, render: Callable[[Line], str]) -> None:
        self.app = app
        self.render = render

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        line: Line = {
            "timestamp": None, "level": "INFO", "logger": LOGGER_NAME, "request_id": rid,
            "method": environ.get("REQUEST_METHOD"), "route": None, "status": 500,
            "duration_ms": None,
        }  # fmt: skip
        environ[_LINE] = line

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            line["status"] = int(status[:3])
            headers.append((HEADER, rid))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            self._write(line, started)

    def _write(self, line: Line, started: float) -> None:
        line["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        level = logging.ERROR if line["status"] >= 500 else logging.INFO
        if level == logging.ERROR:
            line["level"] = "ERROR"
        if not log.isEnabledFor(level):
            return
        line["timestamp"] = _timestamp(time.time())
        text = self.render(line)
        if log.handlers == _DEFAULT_HANDLERS:  # nobody configured tessera.request
            _STDOUT.write(text)  # what handle() would do, without a LogRecord and its lock
        else:  # log.log without findCaller's walk up the stack: the caller is always here
            log.handle(log.makeRecord(LOGGER_NAME, level, __file__, 0, text, (), None))


def _note_route(_error: BaseException | None) -> None:
    """teardown_request: the matched URL rule, read before Flask lets go of the request."""
    rule = request.url_rule
    if rule is not None:
        line: Line | None = request.environ.get(_LINE)
        if line is not None:
            line["route"] = rule.rule


def _note(key: str, value: str) -> None:
    if has_request_context():
        line: Line | None = request.environ.get(_LINE)
        if line is not None:
            line[key] = value


def note_client(client_id: str) -> None:
    """The client this request authenticated as (client endpoints) or whose token it bore."""
    _note("client_id", client_id)


def note_subject(sub: str) -> None:
    """The ``sub`` of the user the request acts for: its token's user or the signed-in user."""
    _note("sub", sub)


def note_error(code: str) -> None:
    """The error code the response carries (``invalid_grant``, ``too_many_requests``)."""
    _note("error", code)


class _Stdout(logging.Handler):
    """Writes each line to whatever ``sys.stdout`` is at the time (pytest swaps it).

    While it is the logger's only handler, the middleware calls :meth:`write` itself: a
    LogRecord, the handler lock and the level and filter checks were half the line's cost
    (py-spy under wrk: 57 of 120 samples a request log took, in 2,555).
    """

    def emit(self, record: logging.LogRecord) -> None:
        self.write(record.getMessage(), record)

    def write(self, text: str, record: logging.LogRecord | None = None) -> None:
        try:
            stream = sys.stdout
            stream.write(text + "\n")
            stream.flush()
        except Exception:  # logging's contract: report, never raise into the request
            self.handleError(record or logging.makeLogRecord({"msg": text}))


_STDOUT = _Stdout()
_DEFAULT_HANDLERS = [_STDOUT]


def init_request_log(app: Flask) -> None:
    """Wrap the app (outermost, so its time and its errors count) unless REQUEST_LOG is off.

    The lines go to stdout, unless the operator gave ``tessera.request`` handlers of their own
    (a logging config loaded before the app, e.g. gunicorn's ``--log-config``).
    """
    config = settings(app)
    if not config.request_log:
        return
    if not log.handlers:
        log.addHandler(_STDOUT)
        log.setLevel(logging.INFO)
        log.propagate = False
    app.teardown_request(_note_route)
    wrapped = RequestLog(app.wsgi_app, RENDERERS[config.log_format])
    app.wsgi_app = wrapped  # type: ignore[method-assign]

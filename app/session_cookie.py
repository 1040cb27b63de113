"""Flask's signed-cookie session, without its per-request cost for callers that have none.

Flask builds a new itsdangerous serializer on every request and again when saving. Most
requests here are API and token calls that carry no cookie: for them the session is simply
new and empty, and saving it only adds Flask's ``Vary: Cookie`` (Flask would work out the
cookie's domain, path and flags first). The serializer is built once per secret key;
everything else is Flask's.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class LeanCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializer: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._serializer is None or self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ
            or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:  # nothing to set or delete
            if session.accessed:
                response.vary.add("Cookie")  # as Flask does
            return
        super().save_session(app, session, response)

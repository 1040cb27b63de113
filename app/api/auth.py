"""Who is calling the photo API: a valid access token for this resource, acting for a user."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import make_response
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app import metrics
from app.api.operations import Operation
from app.errors import TesseraError
from app.oauth.protect import require_access_token
from app.services import sql, usage
from app.settings import settings


@dataclass(frozen=True)
class Caller:
    user_id: int
    client_id: str


def resource_identifier() -> str:
    return str(settings().oauth_resource_audience)


def resource_metadata_url() -> str:
    """RFC 9728 §3.1: the well-known URI with the resource's path appended."""
    issuer = settings().oauth_issuer
    return f"{issuer}/.well-known/oauth-protected-resource{urlsplit(resource_identifier()).path}"


def authenticate(scope: str) -> Caller:
    """The caller behind the request's bearer token, or an RFC 6750 error.

    One JWT verification and one indexed query (tokens.check_access_token). A
    client_credentials token has no user, and the photo routes all act for a user: 403.
    """
    access = require_access_token(
        scope, audience=resource_identifier(), resource_metadata=resource_metadata_url()
    )
    if access.user_id is None:
        raise TesseraError(
            "This token acts for a client, not a user; photos belong to users.",
            error="forbidden",
            status=403,
        )
    return Caller(access.user_id, access.client_id)


def api_operation(
    operation: Operation,
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., Response]]:
    """Authenticate for ``operation``'s scope, run the view, count the call if it succeeded.

    The token check and the view's hot reads (the listing) share one pooled connection.
    """

    def decorator(view: Callable[..., ResponseReturnValue]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            metrics.api_operation(operation.name)  # counted with the final status, errors too
            with sql.connection():
                caller = authenticate(operation.scope)
                response = make_response(view(caller, **kwargs))
            if response.status_code < 400:
                usage.record(caller.user_id, caller.client_id, operation.name)
            return response

        return wrapper

    return decorator

"""Request objects (OIDC Core §6, RFC 9101): not supported, and so refused, never ignored.

Ignoring ``request`` would answer parameters the client did not mean (the signed object's
values are the ones it relies on). OIDC Core §6.1 names the error: ``request_not_supported``,
sent to the redirect URI once it is validated; /par answers it as a JSON error.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.core.errors import RequestNotSupportedError

from app.oauth.authlib_seam import AUTHORIZATION_PAYLOAD_HOOK

PARAMETER = "request"


def refuse(parameters: Any) -> None:
    if PARAMETER in parameters:
        raise RequestNotSupportedError("Request objects (the request parameter) are not supported.")


class RefuseRequestObjects:
    """Grant extension: raised after redirect_uri validation, so the error goes to the client."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(AUTHORIZATION_PAYLOAD_HOOK, self.check)

    def check(self, grant: Any, _result: Any = None) -> None:
        refuse(grant.request.payload.data)

"""RFC 8628 device authorization grant: the device authorization endpoint and the grant type.

The device asks ``/device_authorization`` for a device code and a user code (§3.1, §3.2),
shows the user code and ``<issuer>/device``, and polls ``/token`` with
``grant_type=urn:ietf:params:oauth:grant-type:device_code`` (§3.4) until the user decides on
the verification page (``app.oauth.device_pages``). Clients authenticate here exactly as at
the token endpoint, with their registered method; public clients send ``client_id`` only.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    ExpiredTokenError,
    SlowDownError,
)
from authlib.oauth2.rfc8628 import DeviceCodeGrant as BaseDeviceCodeGrant
from flask import current_app

from app.extensions import db
from app.features import Feature, feature_enabled
from app.models import Authorization, Client, DeviceCode, User
from app.models.client import AUTH_METHODS
from app.models.types import utcnow
from app.oauth import resource_indicators
from app.oauth.authlib_seam import token_response_hooks
from app.oauth.grants import TokenIssuingMixin
from app.scopes import includes, scope_names
from app.services import device_codes
from app.services.device_codes import PollResult
from app.settings import settings

VERIFICATION_PATH = "/device"


def device_metadata() -> dict[str, Any]:
    """RFC 8628 §4: the endpoint for discovery, only while the flow is enabled."""
    if not feature_enabled(Feature.DEVICE_FLOW):
        return {}
    return {"device_authorization_endpoint": settings().oauth_issuer + "/device_authorization"}


def requested_scope(client: Client, scope: str | None) -> str:
    """RFC 6749 §3.3: the registered scope when none is asked; more than it is invalid_scope."""
    if not scope:
        return client.scope
    names = scope_names(scope)
    if not includes(client.scope, names):
        raise InvalidScopeError("The client may not ask for this scope.")
    return " ".join(names)


class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """RFC 8628 §3.1 / §3.2: issue a device code and a user code to a registered client."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def create_endpoint_response(self, request: Any) -> tuple[int, dict[str, Any], Any]:
        client: Client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device_code grant.")
        issued = device_codes.issue(
            client.client_id,
            requested_scope(client, request.payload.scope),
            resource_indicators.authorization_resources(request),  # RFC 8707 §2
        )
        verification_uri = self.get_verification_uri()
        data = {
            "device_code": issued.device_code,
            "user_code": issued.display_user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={issued.user_code}",
            "expires_in": issued.expires_in,
            "interval": issued.interval,
        }
        current_app.logger.info("device authorization issued client=%s", client.client_id)
        return 200, data, default_json_headers

    def get_verification_uri(self) -> str:
        return str(settings().oauth_issuer) + VERIFICATION_PATH


POLL_ERRORS: dict[PollResult, type[OAuth2Error]] = {
    PollResult.EXPIRED: ExpiredTokenError,
    PollResult.DENIED: AccessDeniedError,
    PollResult.PENDING: AuthorizationPendingError,
    PollResult.SLOW_DOWN: SlowDownError,
}
POLL_DESCRIPTIONS = {
    PollResult.INVALID: "The device code is invalid, or was already used.",
    PollResult.EXPIRED: "The device code has expired; start again.",
    PollResult.DENIED: "The user denied the request.",
    PollResult.PENDING: "The user has not decided yet.",
    PollResult.SLOW_DOWN: "Polling too fast; wait 5 seconds longer between requests.",
}


class DeviceCodeGrant(TokenIssuingMixin, BaseDeviceCodeGrant):  # type: ignore[misc]
    """RFC 8628 §3.4 / §3.5: poll with a device code; tokens once the user has approved."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @classmethod
    def check_token_endpoint(cls, request: Any) -> bool:
        """A disabled flow answers unsupported_grant_type, like any unknown grant."""
        return feature_enabled(Feature.DEVICE_FLOW) and bool(super().check_token_endpoint(request))

    def validate_token_request(self) -> None:
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device_code grant.")
        if not self.request.payload.data.get("device_code"):
            raise InvalidRequestError("Missing device_code.")
        self.request.client = client

    @token_response_hooks
    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        """Poll, and issue tokens once the user approved. The grant extensions' hooks
        (DPoPBinding: RFC 9449 §5.2) run before this, so before the poll redeems the code."""
        client: Client = self.request.client
        result, row = device_codes.poll(self.request.payload.data["device_code"], client.client_id)
        if result is not PollResult.REDEEMED or row is None:
            error = POLL_ERRORS.get(result, InvalidGrantError)
            raise error(description=POLL_DESCRIPTIONS[result])
        user = db.session.get(User, row.user_id) if row.user_id else None
        if user is None or not user.is_active:
            raise InvalidGrantError("The user who approved this device is no longer active.")
        self.request.user = user
        self.request.credential = row
        token = self.generate_token(user=user, scope=row.scope)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def authorization_record(self) -> Authorization:
        row: DeviceCode = self.request.credential
        record = (
            db.session.get(Authorization, row.authorization_id) if row.authorization_id else None
        )
        if record is None or not record.is_active(utcnow()):
            raise InvalidGrantError("The authorization was revoked.")
        return record

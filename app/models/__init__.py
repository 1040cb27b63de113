"""Storage: typed SQLAlchemy models. Models keep small invariants and never commit."""

from app.models.api_usage import ApiUsage
from app.models.audit_event import AuditEvent
from app.models.authorization import Authorization
from app.models.authorization_code import AuthorizationCode
from app.models.client import Client
from app.models.client_assertion import UsedClientAssertion
from app.models.consent import Consent
from app.models.device_code import DeviceCode
from app.models.dpop_proof import UsedDPoPProof
from app.models.login_session import LoginSession
from app.models.photo import Photo
from app.models.pushed_request import PushedRequest
from app.models.refresh_token import RefreshToken
from app.models.registration_token import RegistrationToken
from app.models.revoked_access_token import RevokedAccessToken
from app.models.signing_key import SigningKey
from app.models.user import User

__all__ = [
    "ApiUsage",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "DeviceCode",
    "Authorization",
    "LoginSession",
    "Photo",
    "PushedRequest",
    "RefreshToken",
    "RegistrationToken",
    "RevokedAccessToken",
    "SigningKey",
    "UsedClientAssertion",
    "UsedDPoPProof",
    "User",
]

"""OAuth clients and their RFC 7591 metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models.types import UTCDateTime, utcnow
from app.scopes import allowed_part
from app.security import constant_time_equals, hash_token, redirect_uri_matches

# The client authentication methods Tessera knows (RFC 7591 §2 token_endpoint_auth_method):
# the one list that registration, the admin form, the CLI, discovery and /token read.
CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105  RFC 6749 §2.3.1, HTTP Basic
CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105  RFC 6749 §2.3.1, form body
PRIVATE_KEY_JWT = "private_key_jwt"  # RFC 7523 §2.2, OIDC Core §9
PUBLIC_AUTH_METHOD = "none"  # a public client: PKCE, no credentials
SECRET_AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST)
CONFIDENTIAL_AUTH_METHODS = (*SECRET_AUTH_METHODS, PRIVATE_KEY_JWT)
AUTH_METHODS = (*CONFIDENTIAL_AUTH_METHODS, PUBLIC_AUTH_METHOD)
# How a client registered for each method authenticates (shown by ``demo`` and the admin
# console: a request that uses another method is refused, naming the registered one).
AUTH_METHOD_HINTS = {
    CLIENT_SECRET_BASIC: "send the secret in an HTTP Basic header",
    CLIENT_SECRET_POST: "send client_id and client_secret in the form body",
    PRIVATE_KEY_JWT: "send a client_assertion JWT signed with a registered key",
    PUBLIC_AUTH_METHOD: "a public client: send client_id alone, no secret, and use PKCE",
}


class Client(Base, ClientMixin):  # type: ignore[misc]
    """A registered client. ``client_metadata`` holds the RFC 7591 fields as registered.

    Secrets are 256-bit random strings stored as a SHA-256 digest. They are high-entropy, so a
    slow KDF (bcrypt, PBKDF2) would add no protection and only cost every token request time.
    """

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    client_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)
    # A resource server may introspect the access tokens of its audiences, not only its own
    # tokens (RFC 7662 §4); None = the photo API's audience (OAUTH_RESOURCE_AUDIENCE).
    is_resource_server: Mapped[bool] = mapped_column(Boolean, default=False)
    resource_audiences: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a rotation with a grace period, the old secret works until this moment, so a
    # deployment can roll the new secret out without downtime.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # RFC 7592 registration access token (SHA-256); only dynamically registered clients have one.
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))

    # -- metadata accessors -------------------------------------------------------------
    @property
    def redirect_uris(self) -> list[str]:
        return list(self.client_metadata.get("redirect_uris", []))

    @property
    def redirect_uris_digest(self) -> str:
        """SHA-256 of the sorted redirect URIs: a consent names the set it was given for."""
        return hash_token("\n".join(sorted(set(self.redirect_uris))))

    @property
    def grant_types(self) -> list[str]:
        return list(self.client_metadata.get("grant_types", []))

    @property
    def response_types(self) -> list[str]:
        return list(self.client_metadata.get("response_types", []))

    @property
    def scope(self) -> str:
        return str(self.client_metadata.get("scope", ""))

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return list(self.client_metadata.get("post_logout_redirect_uris", []))

    @property
    def id_token_signed_response_alg(self) -> str:
        return str(self.client_metadata.get("id_token_signed_response_alg", "ES256"))

    @property
    def registered_itself(self) -> bool:
        """Registered over RFC 7591 (it holds a registration access token), not by an admin:
        its name is its own claim, and the consent page says so."""
        return self.registration_token_hash is not None

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_AUTH_METHOD

    @property
    def auth_method_hint(self) -> str:
        """How this client authenticates at the token endpoint, in words."""
        return AUTH_METHOD_HINTS.get(self.token_endpoint_auth_method, "")

    # -- authlib ClientMixin ------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """RFC 6749 §3.1.2.3: only a client with exactly one URI may omit redirect_uri."""
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes this client may have (RFC 6749 §3.3: all of its registered
        scope when none is asked for). None when nothing requested is allowed."""
        if not scope:
            return " ".join(self.scope.split())
        granted = allowed_part(scope, self.scope)
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(
            redirect_uri_matches(registered, redirect_uri) for registered in self.redirect_uris
        )

    def check_client_secret(self, client_secret: str) -> bool:
        """The current secret, or the previous one until its grace period ends."""
        if not self.client_secret_hash:
            return False
        digest = hash_token(client_secret)
        current = constant_time_equals(self.client_secret_hash, digest)
        previous = (
            self.previous_secret_hash is not None
            and self.previous_secret_expires_at is not None
            and utcnow() < self.previous_secret_expires_at
            and constant_time_equals(self.previous_secret_hash, digest)
        )
        return current or previous

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

"""Dynamic client registration (RFC 7591 §3) and management (RFC 7592 §2), without HTTP.

Every path stores clients through ``clients.register_client`` and ``clients.update_client``,
so the metadata rules are the CLI's and the admin console's. A dynamically registered client
gets a registration access token (stored hashed) to read, replace or delete itself; it is
never a resource server, so it cannot give itself the right to introspect others' tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.extensions import db
from app.models import Client
from app.security import constant_time_equals, hash_token
from app.services import clients, registration_tokens
from app.services.client_metadata import ClientMetadataError, validate_metadata

# Fields of the client information response that a client echoes back on update (RFC 7592
# §2.2 says it should not send them; they are ignored rather than refused).
SERVER_FIELDS = (
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
)


class RegistrationDenied(Exception):
    """The initial or registration access token does not allow the call (RFC 6750 401)."""


def register(metadata: Mapping[str, Any], initial_access_token: str | None) -> clients.Registration:
    """RFC 7591 §3.1: store a client. With an initial access token one of its uses pays for it.

    Bad metadata is refused before a use is spent; the use and the client commit together.
    """
    _check_request(metadata)
    validate_metadata(metadata)
    if initial_access_token is not None and not registration_tokens.spend(initial_access_token):
        raise RegistrationDenied("The initial access token is invalid, expired or used up.")
    try:
        return clients.register_client(metadata, registration_access_token=True)
    except Exception:
        db.session.rollback()
        raise


def managed_client(client_id: str, registration_access_token: str) -> Client:
    """RFC 7592 §2: the client this token manages. An unknown client, a client registered
    without one (CLI, console) and another client's token all look the same: denied."""
    client = clients.find_client(client_id)
    stored = client.registration_token_hash if client is not None else None
    if stored is None or not constant_time_equals(stored, hash_token(registration_access_token)):
        raise RegistrationDenied("The registration access token is invalid.")
    assert client is not None
    return client


def replace(client: Client, metadata: Mapping[str, Any]) -> Client:
    """RFC 7592 §2.2: the body replaces the metadata; omitted fields are dropped.

    It must carry the client's own client_id; a client_secret, if sent, must be the current
    one (a client cannot choose its secret). The authentication method cannot change.
    """
    _check_request(metadata)
    if metadata.get("client_id") != client.client_id:
        raise ClientMetadataError("client_id: must be present and equal this client's client_id")
    secret = metadata.get("client_secret")
    if secret is not None and not (isinstance(secret, str) and client.check_client_secret(secret)):
        raise ClientMetadataError("client_secret: cannot be set; send the current one or none")
    ignored = {"client_id", "client_secret", *SERVER_FIELDS}
    fields = {key: value for key, value in metadata.items() if key not in ignored}
    return clients.update_client(client.client_id, fields, replace=True)


def delete(client: Client) -> None:
    """RFC 7592 §2.3: the client, its authorizations and its tokens go."""
    clients.delete_client(client.client_id)


def _check_request(metadata: Mapping[str, Any]) -> None:
    """RFC 7591 §3.2.2: software statements are not accepted; NUL never reaches the database."""
    if "software_statement" in metadata:
        raise ClientMetadataError(
            "software statements are not accepted", "invalid_software_statement"
        )
    pending: list[Any] = [metadata]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and "\x00" in value:
            raise ClientMetadataError("metadata must not contain NUL characters")

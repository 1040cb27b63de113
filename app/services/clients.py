"""Registering and managing clients. The CLI, the admin form and dynamic registration all
come through ``register_client``."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import bindparam, select

from app import metrics
from app.errors import ValidationError
from app.extensions import db
from app.models import Authorization, Client
from app.models.client import SECRET_AUTH_METHODS
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.services import audit, authorizations, resources, sql
from app.services.client_metadata import ClientMetadataError, validate_metadata

MAX_SECRET_GRACE = 30 * 24 * 3600


@dataclass(frozen=True)
class Registration:
    """A stored client and, shown this once: its secret (confidential clients) and its RFC 7592
    registration access token (dynamically registered clients)."""

    client: Client
    client_secret: str | None
    registration_access_token: str | None = None

    def information_response(self) -> dict[str, Any]:
        """RFC 7591 §3.2.1 client information response."""
        return client_information(self.client, self.client_secret)


def client_information(client: Client, client_secret: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
    }
    if client_secret is not None:
        info["client_secret"] = client_secret
    if client.client_secret_hash is not None:
        info["client_secret_expires_at"] = 0
    return info | client.client_metadata


def register_client(
    metadata: Mapping[str, Any],
    *,
    resource_server: bool = False,
    resource_audiences: Sequence[str] = (),
    actor_id: int | None = None,
    registration_access_token: bool = False,
) -> Registration:
    """Validate RFC 7591 metadata and store a new client; nothing is stored on error.

    ``resource_server`` lets the client introspect the access tokens of ``resource_audiences``
    (known resources; none named: the photo API's), not only its own tokens.
    ``registration_access_token`` gives the client an RFC 7592 token to manage itself with.
    """
    clean = validate_metadata(metadata)
    if resource_audiences and not resource_server:
        raise ValidationError("audiences are for resource servers only")
    audiences = resources.check_resources(resource_audiences)
    secret = new_token() if clean["token_endpoint_auth_method"] in SECRET_AUTH_METHODS else None
    management_token = new_token() if registration_access_token else None
    client = Client(
        client_id=secrets.token_hex(16),  # hex: never starts with "-" (CLI arguments)
        client_secret_hash=hash_token(secret) if secret else None,
        client_name=clean["client_name"],
        token_endpoint_auth_method=clean["token_endpoint_auth_method"],
        client_metadata=clean,
        is_resource_server=resource_server,
        resource_audiences=audiences or None,
        created_at=utcnow(),
        registration_token_hash=hash_token(management_token) if management_token else None,
    )
    db.session.add(client)
    how = " (dynamic registration)" if registration_access_token else ""
    audit.record(
        "client.registered", client_id=client.client_id, actor_id=actor_id,
        detail=clean["client_name"] + how,
    )  # fmt: skip
    db.session.commit()
    return Registration(client, secret, management_token)


KEPT_ON_UPDATE = ("jwks", "contacts", "policy_uri", "tos_uri", "id_token_signed_response_alg")


def update_client(
    client_id: str,
    metadata: Mapping[str, Any],
    *,
    actor_id: int | None = None,
    replace: bool = False,
) -> Client:
    """Replace a client's metadata under the same rules as registration.

    The authentication method (and so the secret or keys) stays as registered. By default
    (the admin console) fields the console does not edit (inline jwks, contacts, ...) are kept
    unless given; with ``replace`` (RFC 7592 §2.2) every omitted field is dropped, and naming a
    different authentication method is an error.
    """
    client = get_client(client_id)
    if replace:
        merged = dict(metadata)
        method = merged.setdefault("token_endpoint_auth_method", client.token_endpoint_auth_method)
        if method != client.token_endpoint_auth_method:
            raise ClientMetadataError("token_endpoint_auth_method: cannot be changed")
    else:
        kept = {k: v for k, v in client.client_metadata.items() if k in KEPT_ON_UPDATE}
        if "jwks_uri" in metadata:
            kept.pop("jwks", None)
        merged = kept | dict(metadata)
        merged["token_endpoint_auth_method"] = client.token_endpoint_auth_method
    clean = validate_metadata(merged)
    client.client_metadata = clean
    client.client_name = clean["client_name"]
    audit.record(
        "client.changed", client_id=client_id, actor_id=actor_id, detail=client.client_name
    )
    db.session.commit()
    return client


def find_client(client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    return db.session.get(Client, client_id)


class ClientRecord(ClientMixin):  # type: ignore[misc]
    """A read-only copy of one ``clients`` row, for the endpoints clients authenticate at.

    It answers what the ``Client`` model answers (the same methods and properties, shared,
    not copied) but belongs to no session: changing a client goes through the model.
    """

    #: client_credentials: the client's own authorization, read with the client (None: none yet).
    own_authorization: Authorization | None = None

    def __init__(
        self, values: Mapping[Any, Any], own_authorization: Authorization | None = None
    ) -> None:
        self.__dict__.update(values)
        self.__dict__["own_authorization"] = own_authorization

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a ClientRecord is read-only; load the Client model to change it")

    redirect_uris = Client.redirect_uris
    redirect_uris_digest = Client.redirect_uris_digest
    grant_types = Client.grant_types
    response_types = Client.response_types
    scope = Client.scope
    post_logout_redirect_uris = Client.post_logout_redirect_uris
    id_token_signed_response_alg = Client.id_token_signed_response_alg
    registered_itself = Client.registered_itself
    is_public = Client.is_public
    get_client_id = Client.get_client_id
    get_default_redirect_uri = Client.get_default_redirect_uri
    get_allowed_scope = Client.get_allowed_scope
    check_redirect_uri = Client.check_redirect_uri
    check_client_secret = Client.check_client_secret
    check_endpoint_auth_method = Client.check_endpoint_auth_method
    check_response_type = Client.check_response_type
    check_grant_type = Client.check_grant_type


# Built once: every column of the row, by primary key.
_CLIENT_BY_ID = sql.Statement(
    select(*Client.__table__.columns).where(Client.__table__.c.client_id == bindparam("client_id"))
)


_CLIENTS, _AUTHORIZATIONS = Client.__table__.c, Authorization.__table__.c
_AUTHORIZATION_PREFIX = "authorization__"
# The client and its own client_credentials authorization in one read (a client_credentials token
# needs both; two reads were two round trips).
_CLIENT_WITH_OWN_AUTHORIZATION = sql.Statement(
    select(
        *_CLIENTS, *(column.label(_AUTHORIZATION_PREFIX + column.key) for column in _AUTHORIZATIONS)
    )
    .select_from(
        Client.__table__.outerjoin(
            Authorization.__table__, authorizations.own_authorization_condition(_CLIENTS.client_id)
        )
    )
    .where(_CLIENTS.client_id == bindparam("client_id"))
    .order_by(_AUTHORIZATIONS.created_at.desc())
    .limit(1)
)


def _fetch_named(statement: sql.Statement, params: dict[str, Any]) -> dict[str, Any] | None:
    """The statement's first row as a dict by column label, or None."""
    row = sql.fetch_one(statement, params)
    if row is None:
        return None
    return dict(zip(statement.keys, row, strict=True))


def find_client_record(client_id: str, *, own_authorization: bool = False) -> ClientRecord | None:
    """The client as stored right now, read through Core (client authentication's lookup).

    Not cached: a deletion or a secret rotation made at any host counts from the next
    request on. One primary-key read costs tens of microseconds. ``own_authorization`` reads the
    client's client_credentials authorization along (``ClientRecord.own_authorization``).
    """
    if not client_id or len(client_id) > 64:
        return None
    if not own_authorization:
        row = _fetch_named(_CLIENT_BY_ID, {"client_id": client_id})
        return ClientRecord(row) if row is not None else None
    row = _fetch_named(_CLIENT_WITH_OWN_AUTHORIZATION, {"client_id": client_id, "now": utcnow()})
    if row is None:
        return None
    client = {k: v for k, v in row.items() if not k.startswith(_AUTHORIZATION_PREFIX)}
    authorization = {
        k[len(_AUTHORIZATION_PREFIX) :]: v
        for k, v in row.items()
        if k.startswith(_AUTHORIZATION_PREFIX)
    }
    return ClientRecord(
        client, Authorization(**authorization) if authorization["id"] is not None else None
    )


def get_client(client_id: str) -> Client:
    client = find_client(client_id)
    if client is None:
        raise ValidationError(f"no client with id {client_id!r}", error="invalid_client")
    return client


def list_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.created_at, Client.client_name)))


def delete_client(client_id: str, *, actor_id: int | None = None) -> None:
    """Delete a client; its authorizations, codes and tokens go with it (foreign-key cascade)."""
    client = get_client(client_id)
    audit.record(
        "client.deleted", client_id=client_id, actor_id=actor_id, detail=client.client_name
    )
    db.session.delete(client)
    db.session.commit()
    if actor_id is not None:  # the console (a client deleting itself is no admin's doing)
        metrics.revocation(metrics.ADMIN)


def rotate_secret(client_id: str, grace_seconds: int = 0, *, actor_id: int | None = None) -> str:
    """Give a confidential client a new secret (returned, shown once).

    With ``grace_seconds`` the old secret keeps working that long, so the client can roll
    the new one out without downtime; with 0 it stops at once.
    """
    if not 0 <= grace_seconds <= MAX_SECRET_GRACE:
        raise ValidationError(f"the grace period must be 0 to {MAX_SECRET_GRACE} seconds")
    client = get_client(client_id)
    if client.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
        raise ValidationError(
            f"client {client_id!r} authenticates with {client.token_endpoint_auth_method}, "
            "not a secret",
            error="invalid_client",
        )
    secret = new_token()
    now = utcnow()
    if grace_seconds:
        client.previous_secret_hash = client.client_secret_hash
        client.previous_secret_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        client.previous_secret_hash = client.previous_secret_expires_at = None
    client.client_secret_hash = hash_token(secret)
    client.secret_rotated_at = now
    audit.record("client.secret_rotated", client_id=client_id, actor_id=actor_id,
                 detail=f"old secret valid for {grace_seconds} s more")  # fmt: skip
    db.session.commit()
    return secret

"""RFC 7591 client metadata: one set of rules for the CLI, the admin form and registration.

``validate_metadata`` returns the normalised metadata or raises ``ClientMetadataError`` with
the RFC 7591 §3.2.2 error code (``invalid_redirect_uri`` or ``invalid_client_metadata``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from marshmallow import EXCLUDE, Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from app.config import is_loopback
from app.errors import ValidationError
from app.models.client import (
    AUTH_METHODS,
    CLIENT_SECRET_BASIC,
    PRIVATE_KEY_JWT,
    PUBLIC_AUTH_METHOD,
)
from app.scopes import DEFAULT_CLIENT_SCOPE, scope_names, unknown_scopes
from app.services import outbound

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE)
RESPONSE_TYPES = ("code",)
ID_TOKEN_ALGS = ("ES256", "RS256")
URI_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri")
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
# Shown to people (consent page, console): text that reads differently from what it is
# ("Photo\u202egnp.exe" shows as "Photoexe.png") or hides a character is refused.
DISPLAYED_FIELDS = ("client_name", "redirect_uris", "post_logout_redirect_uris", "jwks_uri")
INVISIBLE_OR_BIDI = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


class ClientMetadataError(ValidationError):
    """RFC 7591 §3.2.2 error; ``error`` is the registration error code."""

    def __init__(self, description: str, error: str = "invalid_client_metadata") -> None:
        super().__init__(description, error=error)


class _MetadataSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    client_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=2000)), load_default=list
    )
    grant_types = fields.List(fields.String(), load_default=lambda: ["authorization_code"])
    response_types = fields.List(fields.String(), load_default=None)
    scope = fields.String(load_default=None, validate=validate.Length(max=1000))
    token_endpoint_auth_method = fields.String(load_default=CLIENT_SECRET_BASIC)
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None)
    client_uri = fields.String(load_default=None)
    logo_uri = fields.String(load_default=None)
    policy_uri = fields.String(load_default=None)
    tos_uri = fields.String(load_default=None)
    contacts = fields.List(fields.String(), load_default=list)
    post_logout_redirect_uris = fields.List(fields.String(), load_default=list)
    id_token_signed_response_alg = fields.String(load_default="ES256")
    dpop_bound_access_tokens = fields.Boolean(load_default=None)  # RFC 9449 §5.2
    # RFC 9126 §6: this client's authorization requests must be pushed (PAR).
    require_pushed_authorization_requests = fields.Boolean(load_default=None)


def validate_metadata(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise client metadata; defaults follow RFC 7591 §2."""
    try:
        data: dict[str, Any] = _MetadataSchema().load(dict(raw))
    except SchemaError as exc:
        errors: dict[str, Any] = (
            exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        )
        field, messages = next(iter(errors.items()))
        raise ClientMetadataError(f"{field}: {_first(messages)}") from exc
    _check_displayed_text(data)
    _check_grant_and_response_types(data)
    _check_auth_method(data)
    _check_redirect_uris(data["redirect_uris"], "redirect_uris", error="invalid_redirect_uri")
    _check_redirect_uris(data["post_logout_redirect_uris"], "post_logout_redirect_uris")
    if "authorization_code" in data["grant_types"] and not data["redirect_uris"]:
        raise ClientMetadataError(
            "redirect_uris: required for the authorization_code grant", "invalid_redirect_uri"
        )
    _check_scope(data)
    for name in URI_FIELDS:
        if data[name] is not None:
            _check_https_uri(data[name], name)
            _check_public_host(data[name], name)
    data["contacts"] = [_check_contact(c) for c in data["contacts"]]
    if data["id_token_signed_response_alg"] not in ID_TOKEN_ALGS:
        raise ClientMetadataError(f"id_token_signed_response_alg: use one of {ID_TOKEN_ALGS}")
    return {key: value for key, value in data.items() if value not in (None, [])}


def _first(messages: Any) -> str:
    while isinstance(messages, (list, dict)):
        messages = next(iter(messages.values())) if isinstance(messages, dict) else messages[0]
    return str(messages)


def _check_displayed_text(data: dict[str, Any]) -> None:
    """Refuse bidi controls and zero-width characters in names and URIs (pen-test case 8)."""
    for field in (*DISPLAYED_FIELDS, *URI_FIELDS):
        value = data[field]
        for text in value if isinstance(value, list) else [value]:
            found = INVISIBLE_OR_BIDI.search(text) if isinstance(text, str) else None
            if found:
                raise ClientMetadataError(
                    f"{field}: must not contain invisible or direction-changing characters "
                    f"(U+{ord(found.group()):04X})"
                )


def _check_grant_and_response_types(data: dict[str, Any]) -> None:
    grants = data["grant_types"] = list(dict.fromkeys(data["grant_types"]))
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise ClientMetadataError(f"grant_types: {grant!r} is not supported")
    if not grants:
        raise ClientMetadataError("grant_types: at least one grant type is required")
    if "refresh_token" in grants and not {"authorization_code", DEVICE_CODE} & set(grants):
        raise ClientMetadataError(
            "grant_types: refresh_token needs authorization_code or the device_code grant"
        )
    expected = ["code"] if "authorization_code" in grants else []
    if data["response_types"] is None:
        data["response_types"] = expected
    for response_type in data["response_types"]:
        if response_type not in RESPONSE_TYPES:
            raise ClientMetadataError(f"response_types: {response_type!r} is not supported")
    if sorted(set(data["response_types"])) != expected:
        raise ClientMetadataError(
            "response_types: 'code' goes with the authorization_code grant, and only with it"
        )
    data["response_types"] = expected


def _check_auth_method(data: dict[str, Any]) -> None:
    method = data["token_endpoint_auth_method"]
    if method not in AUTH_METHODS:
        raise ClientMetadataError(f"token_endpoint_auth_method: use one of {AUTH_METHODS}")
    if method == PUBLIC_AUTH_METHOD and "client_credentials" in data["grant_types"]:
        raise ClientMetadataError("grant_types: a public client cannot use client_credentials")
    has_keys = data["jwks"] is not None, data["jwks_uri"] is not None
    if all(has_keys):
        raise ClientMetadataError("jwks and jwks_uri are mutually exclusive (RFC 7591 §2)")
    if method == PRIVATE_KEY_JWT and not any(has_keys):
        raise ClientMetadataError("private_key_jwt needs jwks or jwks_uri")
    if data["jwks"] is not None:
        data["jwks"] = _check_jwks(data["jwks"])
    if data["jwks_uri"] is not None:
        if redirect_uri_problem(data["jwks_uri"]):
            raise ClientMetadataError("jwks_uri: must be an https URL (or http on loopback)")
        _check_public_host(data["jwks_uri"], "jwks_uri")


def _check_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ClientMetadataError("jwks: must be a JWK Set with at least one key")
    for key in keys:
        if not isinstance(key, dict) or PRIVATE_JWK_MEMBERS & set(key):
            raise ClientMetadataError("jwks: only public asymmetric keys are accepted")
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ClientMetadataError(f"jwks: not a valid JWK Set ({exc.__class__.__name__})") from exc
    return jwks


def _check_redirect_uris(
    uris: list[str], field: str, error: str = "invalid_client_metadata"
) -> None:
    for uri in uris:
        reason = redirect_uri_problem(uri)
        if reason:
            raise ClientMetadataError(f"{field}: {uri!r} {reason}", error)


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be registered (RFC 9700 §2.1, §4.1.3; RFC 8252 §7.3), or None."""
    if "*" in uri:
        return "must not contain a wildcard"
    if any(ord(ch) < 0x21 or ch == "\\" for ch in uri):
        return "must not contain spaces, control characters or backslashes"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not a valid URI"
    if parts.scheme not in ("https", "http"):
        return "must use https (or http on a loopback address)"
    if not parts.hostname:
        return "must be an absolute URI with a host"
    if "#" in uri:
        return "must not contain a fragment"
    if parts.username is not None or parts.password is not None:
        return "must not contain user information"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "must use https unless the host is loopback"
    return None


def _check_https_uri(uri: str, field: str) -> None:
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname  # raises ValueError for a malformed IPv6 host
    except ValueError:
        raise ClientMetadataError(f"{field}: must be an https URL") from None
    if parts.scheme != "https" or not hostname or "#" in uri or len(uri) > 2000:
        raise ClientMetadataError(f"{field}: must be an https URL")


def _check_public_host(uri: str, field: str) -> None:
    """A URL Tessera may fetch names no private, link-local or reserved address (SSRF); a
    loopback host only where OUTBOUND_ALLOW_LOOPBACK is on. Names are checked again, resolved,
    when fetched (services.outbound)."""
    host = urlsplit(uri).hostname or ""
    address = outbound.literal_address(host)
    allow_loopback = outbound.loopback_allowed()
    if address is not None and not outbound.address_allowed(address, allow_loopback=allow_loopback):
        raise ClientMetadataError(f"{field}: must not name a private or reserved address")
    if address is None and is_loopback(host) and not allow_loopback:
        raise ClientMetadataError(f"{field}: must not name a loopback host")


def _check_scope(data: dict[str, Any]) -> None:
    scope = data["scope"]
    if scope is None:
        scope = DEFAULT_CLIENT_SCOPE
        if "refresh_token" in data["grant_types"]:
            scope += " offline_access"
    names = scope_names(scope)
    if not names:
        raise ClientMetadataError("scope: at least one scope is required")
    unknown = unknown_scopes(" ".join(names))
    if unknown:
        raise ClientMetadataError(f"scope: unknown scope {unknown[0]!r}")
    data["scope"] = " ".join(names)


def _check_contact(contact: str) -> str:
    try:
        return validate_email(contact, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ClientMetadataError(f"contacts: {contact!r} is not an email address") from exc

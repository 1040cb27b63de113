"""Client authentication: the credentials a request presents, and private_key_jwt.

``presented_credentials`` reads the Authorization header and the form once per HTTP request;
the throttle keys, the choice of method and the secret check all use that one reading.

private_key_jwt (RFC 7523 §2.2, OIDC Core §9):

authlib checks the signature, iss = sub = client_id and exp; Tessera adds: ``aud`` is the
issuer identifier as one string (draft-ietf-oauth-rfc7523bis: after the 2025 audience
injection disclosure, neither endpoint URLs nor arrays), the key comes only from the client's
registered jwks / jwks_uri (never from the assertion's headers; a jwks_uri is fetched through
``services.outbound`` and cached by ``services.client_jwks``), the assertion expires at most
5 minutes ahead, iat and nbf are not in the future, and each jti is accepted once across all
workers (one INSERT ... ON CONFLICT DO NOTHING through ``use_once``, or SET NX in Redis).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Request, g
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from app.models import Client
from app.models.client import (
    CLIENT_SECRET_BASIC,
    CLIENT_SECRET_POST,
    PRIVATE_KEY_JWT,
    PUBLIC_AUTH_METHOD,
)
from app.oauth.authlib_seam import read_basic_authorization
from app.services import replay_cache
from app.services.client_jwks import JWKSUnavailable, client_jwks
from app.services.replay_cache import CLIENT_ASSERTION
from app.settings import settings

MAX_ASSERTION_LIFETIME = 300
CLOCK_LEEWAY = 10
_KID = "tessera_assertion_kid"
FORM_MIMETYPE = "application/x-www-form-urlencoded"
MAX_KEY_LENGTH = 128
MAX_ASSERTION_LENGTH = 16 * 1024
_ENVIRON_KEY = "tessera.client_credentials"


@dataclass(frozen=True)
class Credentials:
    """What a request presents to authenticate a client, read once.

    ``methods``: every method whose credentials are present (RFC 6749 §2.3 allows one).
    ``client_id``: the client the request names, unchecked (Basic user name, ``client_id``
    field, or the unverified ``iss`` of an assertion), cut to 128 characters: throttle key only.
    ``basic``: the decoded Basic user name and password; ``malformed_basic``: a Basic header
    that is not base64 of UTF-8 text.
    """

    methods: tuple[str, ...]
    client_id: str | None
    basic: tuple[str | None, str | None]
    malformed_basic: bool

    @property
    def method(self) -> str:
        """The one method presented ("none" when no credentials are)."""
        return self.methods[0] if self.methods else PUBLIC_AUTH_METHOD


def presented_credentials(request: Request) -> Credentials:
    """The credentials of this HTTP request (parsed on first use, kept in its WSGI environ)."""
    credentials: Credentials | None = request.environ.get(_ENVIRON_KEY)
    if credentials is None:
        credentials = _parse(request)
        request.environ[_ENVIRON_KEY] = credentials
    return credentials


def _parse(request: Request) -> Credentials:
    header = request.headers.get("Authorization")
    form = request.form if request.mimetype == FORM_MIMETYPE else {}
    basic: tuple[str | None, str | None] = (None, None)
    malformed = False
    if header:
        try:  # authlib's own reading of the header (RFC 6749 §2.3.1 form-decoding included)
            basic = read_basic_authorization(header)
        except ValueError:  # e.g. "Basic \xa0" or non-UTF-8 bytes
            malformed = True
    methods = tuple(
        method
        for method, present in (
            (CLIENT_SECRET_BASIC, bool(header)),
            (PRIVATE_KEY_JWT, "client_assertion" in form or "client_assertion_type" in form),
            (CLIENT_SECRET_POST, "client_secret" in form),
        )
        if present
    )
    client_id = basic[0] or form.get("client_id") or None
    if client_id is None:
        client_id = _assertion_issuer(form.get("client_assertion", ""))
    return Credentials(methods, client_id[:MAX_KEY_LENGTH] if client_id else None, basic, malformed)


def _assertion_issuer(assertion: str) -> str | None:
    """``iss`` of a compact JWS, unverified: it only chooses which counter a failure hits."""
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        return None
    try:
        claims = json.loads(extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError, RecursionError):  # RecursionError: deep JSON
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) and issuer else None


GENERIC_FAILURE = "Client authentication failed."
_METHOD_HOW = {PUBLIC_AUTH_METHOD: f"{PUBLIC_AUTH_METHOD} (no client credentials)"}


def registered_method(client: Any, method: str) -> None:
    """Refuse a request whose method is not the one ``client`` is registered for, saying which.

    Decided from the registration and the method the request presents only, before any secret
    or assertion is checked, so a right and a wrong secret get the same answer. An unknown
    client gets the generic answer: nothing tells it apart from a wrong secret.
    """
    if client is None:
        raise InvalidClientError(status_code=401, description=GENERIC_FAILURE)
    registered = client.token_endpoint_auth_method
    if registered != method:
        raise InvalidClientError(
            status_code=401,
            description=(
                f"This client is registered for {_METHOD_HOW.get(registered, registered)}; "
                f"the request used {_METHOD_HOW.get(method, method)}."
            ),
        )


def secret_client(
    credentials: Credentials, method: str, endpoint: str, form: Any, query_client: Any
) -> Any:
    """client_secret_basic / client_secret_post, from the credentials read once.

    Done here rather than by authlib's registry, which reads the header or form again for
    each method it tries; the outcomes are authlib's (unknown client, wrong secret, other
    registered method), with the same descriptions.
    """
    if method == CLIENT_SECRET_BASIC:
        client_id, secret = credentials.basic
    else:
        client_id, secret = form.get("client_id"), form.get("client_secret")
    if not (client_id and secret):
        return None
    client = query_client(client_id)
    if not client:
        raise InvalidClientError(status_code=401, description=GENERIC_FAILURE)
    if client.check_client_secret(secret) and client.check_endpoint_auth_method(method, endpoint):
        return client
    return None


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY)

    def authenticate_client(self, client: Client) -> Client:
        """Whether the client may use private_key_jwt is checked with the other methods
        (``authlib_seam.authenticate_method``), so a refusal reads the same for all."""
        return client

    def get_audiences(self) -> list[str]:
        return [str(settings().oauth_issuer)]

    def extract_assertion(self, assertion: str) -> Any:
        headers, claims = super().extract_assertion(assertion)
        kid = headers.get("kid")
        setattr(g, _KID, kid if isinstance(kid, str) else None)  # which key to look for
        return headers, claims

    def verify_claims(self, claims: Any) -> None:
        if claims.get("aud") != settings().oauth_issuer:
            raise InvalidClientError(description="Assertion aud must be the issuer identifier.")
        now = int(time.time())
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        # A NumericDate may carry a fraction (RFC 7519 §2): 9e10 is as far off as 90000000000.
        if isinstance(exp, int | float) and exp > now + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY:
            raise InvalidClientError(description="Assertion exp is too far in the future.")
        for name, value in (("iat", iat), ("nbf", nbf)):
            if value is not None and (not isinstance(value, int) or value > now + CLOCK_LEEWAY):
                raise InvalidClientError(description=f"Assertion {name} is in the future.")
        super().verify_claims(claims)

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        """Record the jti (``use_once.Record`` in the database, or SET NX in the Redis replay
        cache); a second use is refused in any worker or host."""
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        identifier = f"{claims['sub']} {jti}"
        return replay_cache.first_use(identifier, int(claims["exp"]), kind=CLIENT_ASSERTION)

    def resolve_client_public_key(self, client: Client) -> KeySet:
        metadata = client.client_metadata
        try:
            if "jwks" in metadata:
                return KeySet.import_key_set(metadata["jwks"])
            if "jwks_uri" in metadata:
                kid = g.get(_KID)
                jwks = client_jwks(client.client_id, metadata["jwks_uri"], kid)
                return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError, JWKSUnavailable) as exc:
            raise InvalidClientError(description="The client's keys could not be loaded.") from exc
        raise InvalidClientError(description="The client has no registered keys.")

"""Bearer and DPoP token protection for Tessera's own resources (RFC 6750, RFC 9449 §7).

One place decides the ``WWW-Authenticate`` challenge: no credentials gives a bare challenge
(§3.1: no error code), a bad token ``invalid_token`` (401), a token without the needed scope
``insufficient_scope`` (403) naming the scope. Tokens in the query string are never read.
"""

from __future__ import annotations

from flask import request

from app.errors import TesseraError
from app.features import Feature, feature_enabled
from app.oauth import dpop
from app.request_log import note_client, note_subject
from app.scopes import has_scope
from app.security import constant_time_equals
from app.services.tokens import AccessToken, InvalidToken, check_access_token

REALM = "tessera"
BEARER = "Bearer"
DPOP = "DPoP"


class BearerError(TesseraError):
    """An RFC 6750 §3 (or RFC 9449 §7.1) error with its challenges.

    While DPoP is enabled a 401/403 carries two ``WWW-Authenticate`` lines, Bearer first,
    then ``DPoP algs="..."``; the error code goes on the challenge of the scheme the client
    used (``scheme``), the other one stays bare. ``offer_dpop=False`` where only bearer
    tokens are accepted (client registration): one Bearer challenge, DPoP or not.
    """

    status = 401
    error = "invalid_token"
    bare = False  # no error code in the challenge (the request carried no token)

    def __init__(
        self,
        description: str,
        *,
        error: str | None = None,
        scope: str | None = None,
        resource_metadata: str | None = None,
        scheme: str = BEARER,
        offer_dpop: bool = True,
    ):
        status = 403 if error == "insufficient_scope" else None
        super().__init__(description, error=error, status=status)
        self.scope = scope
        self.resource_metadata = resource_metadata
        self.scheme = scheme
        self.offer_dpop = offer_dpop

    def headers(self) -> dict[str, str | list[str]]:
        challenges = [self.challenge(BEARER)]
        if self.offer_dpop and feature_enabled(Feature.DPOP):
            challenges.append(self.challenge(DPOP))
        return {"WWW-Authenticate": challenges}

    def challenge(self, scheme: str) -> str:
        parts = [f'realm="{REALM}"']
        if scheme == DPOP:  # RFC 9449 §7.1
            parts.append(f'algs="{" ".join(dpop.SIGNING_ALGS)}"')
        if not self.bare and scheme == self.scheme:
            parts += [f'error="{self.error}"', f'error_description="{self.description}"']
            if self.scope:
                parts.append(f'scope="{self.scope}"')
        if self.resource_metadata:  # RFC 9728 §5.1
            parts.append(f'resource_metadata="{self.resource_metadata}"')
        return f"{scheme} " + ", ".join(parts)


class MissingToken(BearerError):
    bare = True

    def __init__(self, resource_metadata: str | None = None, offer_dpop: bool = True) -> None:
        super().__init__(
            "An access token is required.",
            resource_metadata=resource_metadata,
            offer_dpop=offer_dpop,
        )


def presented_token(allow_form_body: bool = False) -> tuple[str, str] | None:
    """(scheme, token) from ``Authorization: Bearer`` or ``DPoP`` (RFC 9449 §7.1, while
    enabled), or, if allowed, a bearer token in an RFC 6750 §2.2 form body."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return BEARER, value.strip()
    if scheme.lower() == "dpop" and value.strip() and feature_enabled(Feature.DPOP):
        return DPOP, value.strip()
    if (
        allow_form_body
        and request.method == "POST"
        and request.mimetype == ("application/x-www-form-urlencoded")
    ):
        token = request.form.get("access_token")
        return (BEARER, token) if token else None
    return None


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, and nothing else."""
    presented = presented_token()
    return presented[1] if presented is not None and presented[0] == BEARER else None


def require_access_token(
    scope: str | None = None,
    audience: str | None = None,
    allow_form_body: bool = False,
    resource_metadata: str | None = None,
    with_user: bool = False,
) -> AccessToken:
    """The request's valid access token, holding ``scope``; raises BearerError otherwise.

    ``audience`` restricts tokens to one resource (RFC 9068 §4); ``resource_metadata`` is
    advertised in every challenge (RFC 9728 §5.1). A DPoP-bound token is only accepted
    with the ``DPoP`` scheme and a proof of its key (RFC 9449 §7). ``with_user`` reads the
    token's user along with its validity (``AccessToken.user``).
    """
    presented = presented_token(allow_form_body)
    if presented is None:
        raise MissingToken(resource_metadata)
    scheme, token = presented
    try:
        access = check_access_token(token, audience, with_user=with_user)
    except InvalidToken:
        raise BearerError(
            "The access token is invalid, expired or revoked.",
            resource_metadata=resource_metadata,
            scheme=scheme,
        ) from None
    _check_binding(access, token, scheme, resource_metadata)
    note_client(access.client_id)
    if access.user_id is not None:  # a client_credentials token's sub is its client
        note_subject(str(access.claims["sub"]))
    if scope and not has_scope(access.scope, scope):
        raise BearerError(
            f"This request needs the {scope} scope.",
            error="insufficient_scope",
            scope=scope,
            resource_metadata=resource_metadata,
            scheme=scheme,
        )
    return access


def _check_binding(
    access: AccessToken, token: str, scheme: str, resource_metadata: str | None
) -> None:
    """RFC 9449 §7.1-7.2: a bound token needs the DPoP scheme, a valid proof with its
    ``ath``, by the key in ``cnf.jkt``; the DPoP scheme needs a bound token."""
    if scheme == BEARER:
        if access.jkt is not None:
            raise BearerError(
                "This access token is DPoP-bound; send it with the DPoP scheme and a proof.",
                resource_metadata=resource_metadata,
            )
        return
    if access.jkt is None:
        raise BearerError(
            "This access token is not DPoP-bound; send it as a Bearer token.",
            resource_metadata=resource_metadata,
            scheme=DPOP,
        )
    try:
        proof = dpop.request_proof(access_token=token)
        if proof is None:
            raise dpop.DPoPProofError("A DPoP proof is required with the DPoP scheme.")
    except dpop.DPoPProofError as exc:
        raise BearerError(
            exc.description, error=exc.error, resource_metadata=resource_metadata, scheme=DPOP
        ) from None
    if not constant_time_equals(proof.jkt, access.jkt):
        raise BearerError(
            "The DPoP proof's key is not the key the access token is bound to.",
            resource_metadata=resource_metadata,
            scheme=DPOP,
        )

"""DPoP at the token endpoint (RFC 9449 §5): which key the issued tokens are bound to.

The token view calls ``check_token_request`` before any grant runs: a bad proof is a 400
``invalid_dpop_proof`` and nothing is consumed. The verified proof rides on authlib's request
object to ``TokenIssuingMixin.generate_token``, which binds the access token (``cnf.jkt``,
``token_type: DPoP``) and a public client's refresh token to it. Its jti is recorded only
once the client has authenticated (``record_proof``), in the token's transaction: a request
with a wrong secret writes nothing. A request refused after that still uses the proof up
(``keep_proof_after_error``).

``DPoPBinding`` is an authlib grant extension. Its hook runs after the grant validated the
request and before anything is consumed (a code, a refresh token), and refuses a client
registered with ``dpop_bound_access_tokens`` (§5.2) that sent no proof, a bound refresh
token refreshed without a proof of the same key (§5), and a code whose authorization request
named ``dpop_jkt`` redeemed without a proof of that key (§10). At the authorization endpoint
``DPoPKeyParameter`` checks that ``dpop_jkt`` looks like a thumbprint.
"""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error

from app.features import Feature, feature_enabled
from app.oauth import dpop
from app.oauth.authlib_seam import AUTHORIZATION_PAYLOAD_HOOK, TOKEN_RESPONSE_HOOK
from app.security import constant_time_equals

TOKEN_TYPE = "DPoP"  # noqa: S105 - a token type name, not a secret
# An RFC 7638 SHA-256 thumbprint, base64url without padding: 43 characters.
THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]
    error = "invalid_dpop_proof"


_PROOF = "dpop_proof"
_RECORDED = "dpop_proof_recorded"


def check_token_request(oauth_request: Any) -> None:
    """Verify the request's proof, if any (and DPoP is on), and keep it on ``oauth_request``;
    its jti is not recorded yet (``record_proof``)."""
    proof = dpop.request_proof(record=False) if feature_enabled(Feature.DPOP) else None
    setattr(oauth_request, _PROOF, proof)


def request_jkt(oauth_request: Any) -> str | None:
    """The thumbprint of the key this token request proved, or None."""
    proof: dpop.Proof | None = getattr(oauth_request, _PROOF, None)
    return proof.jkt if proof is not None else None


def record_proof(oauth_request: Any) -> None:
    """The client has authenticated: record the proof's jti (once), in the token's transaction."""
    proof: dpop.Proof | None = getattr(oauth_request, _PROOF, None)
    if proof is None or getattr(oauth_request, _RECORDED, False):
        return
    dpop.record_use(proof, commit=False)
    setattr(oauth_request, _RECORDED, True)


def keep_proof_after_error(oauth_request: Any) -> None:
    """An OAuth error after ``record_proof``: the token's transaction is dropped, the proof
    stays used (RFC 9449 §11.1: a refused request's proof cannot be replayed either)."""
    proof: dpop.Proof | None = getattr(oauth_request, _PROOF, None)
    if proof is not None and getattr(oauth_request, _RECORDED, False):
        dpop.keep_use_after_failure(proof)


class DPoPBinding:
    """authlib grant extension: refuse, before anything is consumed, what §5 forbids."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(TOKEN_RESPONSE_HOOK, self.check)

    def check(self, grant: Any) -> None:
        jkt = request_jkt(grant.request)
        client = grant.request.client
        if jkt is None and client.client_metadata.get("dpop_bound_access_tokens"):
            raise InvalidDPoPProofError("This client must send a DPoP proof.")
        for credential, name in (
            (grant.request.refresh_token, "refresh token"),
            (getattr(grant.request, "authorization_code", None), "authorization code"),
        ):
            bound = getattr(credential, "dpop_jkt", None)
            if bound is None:
                continue
            if jkt is None:
                raise InvalidDPoPProofError(f"This {name} is DPoP-bound; send a DPoP proof.")
            if not constant_time_equals(jkt, bound):
                raise InvalidGrantError(f"DPoP proof key does not match the {name}.")


class DPoPKeyParameter:
    """Authorization-code grant extension: ``dpop_jkt`` (RFC 9449 §10) must be a JWK SHA-256
    thumbprint; checked once the redirect URI is known, so an error goes back to the client."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(AUTHORIZATION_PAYLOAD_HOOK, self.validate)

    def validate(self, grant: Any, redirect_uri: str | None) -> None:
        values = grant.request.payload.datalist.get("dpop_jkt", [])
        if not feature_enabled(Feature.DPOP) or not values:
            return
        if len(values) > 1 or not THUMBPRINT.match(str(values[0])):
            raise InvalidRequestError(
                "dpop_jkt must be one base64url SHA-256 JWK thumbprint.",
                state=grant.request.payload.state,
            )

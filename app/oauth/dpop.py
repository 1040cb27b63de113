"""DPoP proofs (RFC 9449): checking the proof a request carries, and server nonces.

``request_proof`` runs the §4.3 checks in order: one ``DPoP`` header holding a compact JWS
typed ``dpop+jwt``, signed with an asymmetric algorithm by the public ``jwk`` in its header;
``htm`` and ``htu`` name this request (``htu`` against ``OAUTH_ISSUER`` + path, never the
URL the request arrived on, which proxies rewrite); ``iat`` within ``DPOP_PROOF_MAX_AGE``
(5 s ahead tolerated); ``ath`` hashes the access token at a resource (§7); the server's
nonce when ``DPOP_NONCE_REQUIRED`` (§8, §9); and the ``jti`` unseen by every worker and host
(§11.1, ``services.replay_cache``). The result is the key's RFC 7638 thumbprint (``jkt``).

Nonces are stateless: an HMAC of a 5-minute time step under ``SECRET_KEY``, so all hosts
that share the secret agree without storage; the current and the previous step are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, Response, request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, RSAKey
from joserfc.jws import JWSRegistry

from app.errors import TesseraError
from app.services import replay_cache
from app.settings import settings

PROOF_TYPE = "dpop+jwt"
# Asymmetric algorithms only (§4.3 step 5): "none" and the HS* family are never accepted.
SIGNING_ALGS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "Ed25519")
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
MIN_RSA_BITS = 2048
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
FUTURE_LEEWAY = 5  # seconds a proof's iat may be ahead of our clock
NONCE_STEP = 300  # seconds one server nonce is current (and then one more step accepted)
DEFAULT_PORTS = {"http": 80, "https": 443}
NONCE_ENDPOINTS = frozenset({"oauth.token", "oauth.userinfo"})


class _ProofRegistry(JWSRegistry):
    """joserfc's limits, with room in the header for an RSA ``jwk`` (512 bytes by default)."""

    max_header_length = 4096
    max_payload_length = 4096


PROOF_REGISTRY = _ProofRegistry(algorithms=SIGNING_ALGS)


class DPoPProofError(TesseraError):
    """§5.1 / §7.1: the proof is missing where required, malformed or fails a check."""

    error = "invalid_dpop_proof"


class UseDPoPNonce(DPoPProofError):
    """§8 / §9: the proof must carry the server's current nonce (sent as ``DPoP-Nonce``)."""

    error = "use_dpop_nonce"


@dataclass(frozen=True)
class Proof:
    """A verified proof: the thumbprint of its key and its claims."""

    jkt: str
    claims: dict[str, Any]


def request_proof(access_token: str | None = None, *, record: bool = True) -> Proof | None:
    """The current request's verified proof, or None when it sends no ``DPoP`` header.

    ``access_token`` is given at a protected resource: the proof must then carry its ``ath``.
    ``record=False`` leaves the jti for ``record_use`` (the token endpoint records it only
    once the client has authenticated).
    """
    values = request.headers.getlist("DPoP")
    if not values:
        return None
    if len(values) > 1:
        raise DPoPProofError("Send exactly one DPoP header.")
    uri = str(settings().oauth_issuer) + request.path
    return validate_proof(values[0], request.method, uri, access_token, record=record)


def validate_proof(
    proof: str,
    method: str,
    uri: str,
    access_token: str | None = None,
    *,
    record: bool = True,
) -> Proof:
    """RFC 9449 §4.3 for one proof JWT presented with ``method`` ``uri``."""
    jkt, claims = _verify_signature(proof)
    _check_claims(claims, method, uri)
    if access_token is not None and not _ath_matches(claims.get("ath"), access_token):
        raise DPoPProofError("The DPoP proof's ath does not match the access token.")
    _check_nonce(claims.get("nonce"))
    verified = Proof(jkt, claims)
    if record:
        record_use(verified)
    return verified


def record_use(proof: Proof, *, commit: bool = True) -> None:
    """§11.1: remember the proof's jti in every worker and host; a second use is refused.

    ``commit=False``: with the database as replay cache the row joins the caller's
    transaction (written now: a concurrent second use waits for it and is refused; the
    token response's service commits).
    """
    if not replay_cache.first_use(*_replay_key(proof), commit=commit):
        raise DPoPProofError("This DPoP proof was already used.")


def keep_use_after_failure(proof: Proof) -> None:
    """The request that carried ``proof`` failed after ``record_use(commit=False)``: its
    transaction is dropped, but the proof stays used."""
    replay_cache.first_use_alone(*_replay_key(proof))


def _replay_key(proof: Proof) -> tuple[str, float]:
    max_age = int(settings().dpop_proof_max_age)
    return f"{proof.jkt} {proof.claims['jti']}", proof.claims["iat"] + max_age


def _verify_signature(proof: str) -> tuple[str, dict[str, Any]]:
    """Steps 2 and 4-7: the header's typ, alg and public jwk, and the signature by that key."""
    if not proof or len(proof) > MAX_PROOF_LENGTH or not proof.isascii():
        raise DPoPProofError("The DPoP header is not a JWT.")
    try:
        header = jws.extract_compact(proof.encode(), registry=PROOF_REGISTRY).headers()
    except (JoseError, ValueError) as exc:
        raise DPoPProofError("The DPoP header is not a compact JWS.") from exc
    if header.get("typ") != PROOF_TYPE:
        raise DPoPProofError(f"The DPoP proof's typ must be {PROOF_TYPE}.")
    alg = header.get("alg")
    if alg not in SIGNING_ALGS:
        raise DPoPProofError(f"The DPoP proof's alg must be one of {' '.join(SIGNING_ALGS)}.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or PRIVATE_JWK_MEMBERS & set(jwk):
        raise DPoPProofError("The DPoP proof's jwk must be a public key.")
    try:
        key = JWKRegistry.import_key(jwk)
        if key.is_private or (isinstance(key, RSAKey) and _rsa_bits(key) < MIN_RSA_BITS):
            raise DPoPProofError("The DPoP proof's jwk must be a public key of a safe size.")
        verified = jws.deserialize_compact(proof, key, algorithms=[alg], registry=PROOF_REGISTRY)
        claims = json.loads(verified.payload)
        jkt = key.thumbprint()
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise DPoPProofError("The DPoP proof's signature does not verify with its jwk.") from exc
    if not isinstance(claims, dict):
        raise DPoPProofError("The DPoP proof's payload is not a JSON object.")
    return jkt, claims


def _rsa_bits(key: RSAKey) -> int:
    return int(key.public_key.key_size)


def _check_claims(claims: dict[str, Any], method: str, uri: str) -> None:
    """Steps 3, 8, 9 and 11: jti, htm, htu and iat."""
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise DPoPProofError(f"The DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters.")
    if claims.get("htm") != method:
        raise DPoPProofError("The DPoP proof's htm does not match the request method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalise_uri(htu) != normalise_uri(uri):
        raise DPoPProofError("The DPoP proof's htu does not match the request URI.")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        raise DPoPProofError("The DPoP proof needs a numeric iat.")
    now = time.time()
    if iat > now + FUTURE_LEEWAY or iat < now - int(settings().dpop_proof_max_age):
        raise DPoPProofError("The DPoP proof's iat is outside the accepted window.")


def normalise_uri(uri: str) -> str | None:
    """§4.3 step 9: RFC 3986 §6.2.2-6.2.3 normalisation, without query and fragment."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~") or "/"
    return f"{scheme}://{netloc}{path}"


def access_token_hash(access_token: str) -> str:
    """§4.2 ``ath``: base64url SHA-256 of the access token's ASCII."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _ath_matches(ath: Any, access_token: str) -> bool:
    if not isinstance(ath, str):
        return False
    return hmac.compare_digest(ath.encode(), access_token_hash(access_token).encode())


# -- server nonces (§8, §9) -------------------------------------------------------------


def current_nonce() -> str:
    return nonce_at(time.time())


def nonce_at(moment: float) -> str:
    """The nonce of the time step holding ``moment``: HMAC-SHA256 under SECRET_KEY."""
    step = int(moment) // NONCE_STEP
    key = str(settings().secret_key).encode()
    mac = hmac.new(key, f"tessera dpop-nonce {step}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _check_nonce(nonce: Any) -> None:
    if not settings().dpop_nonce_required:
        return
    now = time.time()
    accepted = (nonce_at(now), nonce_at(now - NONCE_STEP))
    if not isinstance(nonce, str) or not any(
        hmac.compare_digest(nonce.encode(), good.encode()) for good in accepted
    ):
        raise UseDPoPNonce("Resend the request with the nonce in the DPoP-Nonce header.")


def init_app(app: Flask) -> None:
    """Every answer of the token endpoint, userinfo and the photo API carries a fresh nonce
    while nonces are required (§8.2, §9), errors included."""

    @app.after_request
    def _send_nonce(response: Response) -> Response:
        config = settings()
        if not (config.dpop_enabled and config.dpop_nonce_required):
            return response  # the common case: nothing to look at
        endpoint = request.endpoint or ""
        if endpoint in NONCE_ENDPOINTS or endpoint.startswith("api."):
            response.headers["DPoP-Nonce"] = current_nonce()
        return response

"""DPoP (RFC 9449) for a requests-based client: proofs signed with joserfc, server nonces.

authlib's client speaks Bearer only, so DPoP rides on requests' auth hooks: ``DPoPAuth``
adds a fresh proof to every request it signs (wrapping the client's own authentication at
the token endpoint) and, when the server answers ``use_dpop_nonce`` with a ``DPoP-Nonce``
header (§8, §9), signs a new proof with that nonce and resends the request once, as
requests' own ``HTTPDigestAuth`` answers a 401 challenge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from joserfc import jws
from joserfc.jwk import ECKey
from requests.auth import AuthBase

ALGORITHM = "ES256"


class DPoPKey:
    """One P-256 key pair that a connection's tokens are bound to, and the server's nonce."""

    def __init__(self, key: ECKey) -> None:
        self.key = key
        self.nonce: str | None = None

    @classmethod
    def generate(cls) -> DPoPKey:
        return cls(ECKey.generate_key("P-256"))

    @classmethod
    def from_json(cls, text: str) -> DPoPKey:
        return cls(ECKey.import_key(json.loads(text)))

    def to_json(self) -> str:
        """The private JWK, for PhotoPrint's server-side store only."""
        return json.dumps(self.key.as_dict(private=True))

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint: the ``dpop_jkt`` of an authorization request (§10)."""
        return str(self.key.thumbprint())

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """§4.2: a ``dpop+jwt`` for this method and URL (without query and fragment); with
        ``ath`` when it goes with an access token."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(24),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            "iat": int(time.time()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if self.nonce is not None:
            claims["nonce"] = self.nonce
        header = {"typ": "dpop+jwt", "alg": ALGORITHM, "jwk": self.key.as_dict(private=False)}
        return jws.serialize_compact(header, json.dumps(claims), self.key, algorithms=[ALGORITHM])


class DPoPAuth(AuthBase):
    """Sign a request with a DPoP proof; ``inner`` (client authentication) runs first, and
    ``access_token`` (at a resource) goes in ``Authorization: DPoP``."""

    def __init__(
        self, key: DPoPKey, inner: AuthBase | None = None, access_token: str | None = None
    ) -> None:
        self.key = key
        self.inner = inner
        self.access_token = access_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.inner is not None:
            request = self.inner(request)
        if self.access_token is not None:
            request.headers["Authorization"] = f"DPoP {self.access_token}"
        self._sign(request)
        request.register_hook("response", self._answer_nonce_challenge)
        return request

    def _sign(self, request: requests.PreparedRequest) -> None:
        assert request.method is not None and request.url is not None
        request.headers["DPoP"] = self.key.proof(request.method, request.url, self.access_token)

    def _answer_nonce_challenge(self, response: requests.Response, **kwargs: Any) -> Any:
        nonce = response.headers.get("DPoP-Nonce")
        if nonce is None:
            return response
        self.key.nonce = nonce  # servers may send a fresh one with any answer (§8.2)
        if not asks_for_nonce(response) or response.history:
            return response
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        self._sign(retry)
        resent = response.connection.send(retry, **kwargs)
        resent.history.append(response)
        resent.request = retry
        self.key.nonce = resent.headers.get("DPoP-Nonce", self.key.nonce)
        return resent


def asks_for_nonce(response: requests.Response) -> bool:
    """§8 (token endpoint: JSON error) and §9 (resource: WWW-Authenticate challenge)."""
    if response.status_code == 401:
        return 'error="use_dpop_nonce"' in response.headers.get("WWW-Authenticate", "")
    if response.status_code == 400:
        try:
            return bool(response.json().get("error") == "use_dpop_nonce")
        except ValueError:
            return False
    return False

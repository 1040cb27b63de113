"""A DPoP client's part (RFC 9449 §4): a key pair and the proofs it signs with joserfc."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse

from tests.oauth.helpers import OAuthActions, RegisteredClient

Key = ECKey | RSAKey | OKPKey
SCOPE = "openid offline_access photos.read"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath_of(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode()).digest())


def generate_key(alg: str = "ES256") -> Key:
    if alg.startswith("ES"):
        curve = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
        return ECKey.generate_key(curve, private=True)
    if alg == "Ed25519":
        return OKPKey.generate_key("Ed25519", private=True)
    return RSAKey.generate_key(2048, private=True)


class DPoPClient:
    """Holds one private key; ``proof`` signs a DPoP proof JWT for one request."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key = generate_key(alg)

    @property
    def jkt(self) -> str:
        """RFC 7638 thumbprint of the public key (what ``cnf.jkt`` must hold)."""
        return str(self.key.thumbprint())

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    def proof(
        self, method: str, url: str, *, access_token: str | None = None,
        header: dict[str, Any] | None = None, **claims: Any,
    ) -> str:  # fmt: skip
        """A proof for ``method url``; ``claims``/``header`` override (None removes)."""
        body: dict[str, Any] = {
            "jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time()),
        }  # fmt: skip
        if access_token is not None:
            body["ath"] = ath_of(access_token)
        body = {k: v for k, v in (body | claims).items() if v is not None}
        head = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk()} | (header or {})
        head = {k: v for k, v in head.items() if v is not None}
        return jws.serialize_compact(
            head, json.dumps(body).encode(), self.key, algorithms=[head.get("alg", self.alg)]
        )


def unsigned_proof(method: str, url: str, jwk: dict[str, Any]) -> str:
    """An ``alg: none`` proof (must be refused, §4.3 step 5)."""
    head = {"typ": "dpop+jwt", "alg": "none", "jwk": jwk}
    body = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    encode = lambda part: b64url(json.dumps(part).encode())  # noqa: E731
    return f"{encode(head)}.{encode(body)}."


def hmac_proof(method: str, url: str) -> str:
    """An HS256 proof carrying its symmetric key as ``jwk`` (must be refused)."""
    key = OctKey.generate_key(256)
    head = {"typ": "dpop+jwt", "alg": "HS256", "jwk": key.as_dict(private=False)}
    body = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    return jws.serialize_compact(head, json.dumps(body).encode(), key, algorithms=["HS256"])


def challenges(values: list[str]) -> dict[str, dict[str, str]]:
    """``WWW-Authenticate`` lines as {scheme: {param: value}}."""
    parsed: dict[str, dict[str, str]] = {}
    for value in values:
        scheme, _, rest = value.partition(" ")
        parsed[scheme] = dict(re.findall(r'([a-z_]+)="([^"]*)"', rest))
    return parsed


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


# -- token requests through the test client ----------------------------------------------


def post_token(
    oauth: OAuthActions, client: RegisteredClient, proofs: str | list[str] | None, **form: Any
) -> TestResponse:
    """POST /token authenticated as ``client``, with zero, one or several DPoP headers."""
    auth_headers, auth_form = oauth.auth(client)
    headers = Headers(auth_headers)
    for proof in [proofs] if isinstance(proofs, str) else proofs or []:
        headers.add("DPoP", proof)
    return oauth.http.post("/token", data=auth_form | form, headers=headers)


def code_flow(
    oauth: OAuthActions, client: RegisteredClient, proof: str | None, scope: str = SCOPE
) -> dict[str, Any]:
    flow = oauth.approve(client, scope=scope)
    response = post_token(
        oauth, client, proof, grant_type="authorization_code", code=flow.code,
        redirect_uri=client.redirect_uri, code_verifier=flow.verifier,
    )  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body

"""PhotoPrint as an OAuth client of Tessera, with authlib's ``OAuth2Session``.

authlib builds the authorization request (PKCE S256, state), redeems the code, authenticates
the client (``client_secret_basic``) and refreshes an access token that is expired or within
``leeway`` seconds of it. What authlib's client lacks is added here, small and on top:
discovery, pushing the request (RFC 9126), checking ``iss`` on the callback (RFC 9207) and
DPoP (RFC 9449, ``photoprint.dpop``), which signs the token requests and every API call.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session
from requests.auth import AuthBase

from photoprint.dpop import ALGORITHM, DPoPAuth, DPoPKey


class TesseraUnavailable(Exception):
    """Tessera did not answer, or answered something that is not OAuth."""


class AuthorizationFailed(Exception):
    """Tessera (or Bob) said no, or the answer could not be trusted."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Client:
    """What registration gave PhotoPrint (instance/client.json)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str


@dataclass(frozen=True)
class Provider:
    """What Tessera's discovery document says (OpenID Connect Discovery 1.0 §4)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    pushed_authorization_request_endpoint: str
    revocation_endpoint: str

    @classmethod
    def discover(cls, issuer: str, timeout: float) -> Provider:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = requests.get(url, timeout=timeout)
            answer.raise_for_status()
            document = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise TesseraUnavailable(f"discovery at {url} failed: {exc}") from exc
        if document.get("issuer") != issuer:  # §4.3: the document must name the issuer asked
            raise TesseraUnavailable(f"{url} names issuer {document.get('issuer')!r}")
        if ALGORITHM not in document.get("dpop_signing_alg_values_supported", []):
            raise TesseraUnavailable(f"Tessera at {issuer} does not accept {ALGORITHM} DPoP proofs")
        try:
            return cls(
                issuer=issuer,
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                pushed_authorization_request_endpoint=document[
                    "pushed_authorization_request_endpoint"
                ],
                revocation_endpoint=document["revocation_endpoint"],
            )
        except KeyError as exc:
            raise TesseraUnavailable(f"discovery at {url} lacks {exc}") from exc


class DPoPTokenAuth(OAuth2Auth):  # type: ignore[misc]
    """authlib's token auth (refresh first if due), sending the token as ``DPoP``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.ensure_active_token()
        session: DPoPSession = self.client
        signed: requests.PreparedRequest = DPoPAuth(
            session.dpop_key, access_token=self.token["access_token"]
        )(request)
        return signed


class DPoPSession(OAuth2Session):  # type: ignore[misc]
    """An ``OAuth2Session`` whose token requests and API calls carry DPoP proofs."""

    token_auth_class = DPoPTokenAuth

    def __init__(
        self,
        client: Client,
        provider: Provider,
        dpop_key: DPoPKey,
        *,
        token: Mapping[str, Any] | None = None,
        update_token: Callable[..., None] | None = None,
        leeway: int = 60,
        timeout: float = 10,
    ) -> None:
        self.dpop_key = dpop_key
        super().__init__(
            client.client_id,
            client.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            scope=client.scope,
            redirect_uri=client.redirect_uri,
            code_challenge_method="S256",
            token_endpoint=provider.token_endpoint,
            token=dict(token) if token else None,
            update_token=update_token,
            leeway=leeway,
            default_timeout=timeout,
        )
        self.provider = provider

    def client_auth(self, auth_method: Any) -> AuthBase:
        """Client authentication at the token endpoint, plus a DPoP proof (RFC 9449 §5)."""
        return DPoPAuth(self.dpop_key, inner=super().client_auth(auth_method))

    def push_authorization_request(self, state: str, code_verifier: str) -> str:
        """RFC 9126 §2: push authlib's authorization request (with PKCE and ``dpop_jkt``,
        RFC 9449 §10, binding the code to our key); return the URL to send Bob to."""
        built, _ = self.create_authorization_url(
            self.provider.pushed_authorization_request_endpoint,
            state=state,
            code_verifier=code_verifier,
            nonce=secrets.token_urlsafe(16),
            dpop_jkt=self.dpop_key.thumbprint,
        )
        params = dict(parse_qsl(urlsplit(built).query))
        plain_auth = super().client_auth(self.token_endpoint_auth_method)
        try:
            answer = requests.post(
                self.provider.pushed_authorization_request_endpoint,
                data=params,
                auth=plain_auth,
                timeout=self.default_timeout,
            )
        except requests.RequestException as exc:
            raise TesseraUnavailable(f"pushing the authorization request failed: {exc}") from exc
        body = _json(answer)
        if answer.status_code != 201 or "request_uri" not in body:
            raise AuthorizationFailed(
                str(body.get("error", f"HTTP {answer.status_code}")),
                str(body.get("error_description", "")),
            )
        query = urlencode({"client_id": self.client_id, "request_uri": body["request_uri"]})
        return f"{self.provider.authorization_endpoint}?{query}"

    def redeem(self, callback: Mapping[str, str], state: str, code_verifier: str) -> Any:
        """Check the callback (state, then ``iss``, then an error) and redeem its code."""
        if not hmac.compare_digest(callback.get("state", ""), state):
            raise AuthorizationFailed("invalid_state", "This answer is not for our request.")
        if not hmac.compare_digest(callback.get("iss", ""), self.provider.issuer):
            raise AuthorizationFailed(  # RFC 9207 §2.4: a mix-up; never send the code on
                "invalid_issuer", "This answer did not come from the Tessera we asked."
            )
        if "error" in callback:
            raise AuthorizationFailed(callback["error"], callback.get("error_description", ""))
        if "code" not in callback:
            raise AuthorizationFailed("invalid_request", "The answer carries no code.")
        return self.fetch_token(
            self.provider.token_endpoint,
            grant_type="authorization_code",
            code=callback["code"],
            code_verifier=code_verifier,
        )


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

"""RFC 8414 and OpenID Connect Discovery metadata, built from what the server registers.

Every list here is read from the same tables ``server.py`` registers from, so the documents
cannot claim a grant, method or algorithm the server would refuse.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from app.features import Feature, feature_enabled
from app.oauth.device import device_metadata
from app.oauth.dpop import SIGNING_ALGS as DPOP_SIGNING_ALGS
from app.oauth.par import metadata as par_metadata
from app.oauth.revocation_introspection import Introspection, Revocation
from app.oauth.server import CLIENT_ASSERTION_ALGS, GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS
from app.scopes import SCOPES_SUPPORTED
from app.services.keys import SUPPORTED_ALGS
from app.settings import settings


def authorization_server_metadata() -> dict[str, Any]:
    """RFC 8414 §2."""
    issuer = settings().oauth_issuer
    grant_types = [grant.GRANT_TYPE for grant in GRANT_TYPES]
    if not feature_enabled(Feature.DEVICE_FLOW):
        grant_types.remove(DEVICE_CODE_GRANT_TYPE)
    document: dict[str, Any] = (
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks.json",
            "revocation_endpoint": f"{issuer}/revoke",
            "introspection_endpoint": f"{issuer}/introspect",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "end_session_endpoint": f"{issuer}/end-session",
            "scopes_supported": SCOPES_SUPPORTED,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grant_types,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
            "revocation_endpoint_auth_methods_supported": Revocation.CLIENT_AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": Introspection.CLIENT_AUTH_METHODS,
            "authorization_response_iss_parameter_supported": True,
            "prompt_values_supported": ["none", "login", "consent"],
        }
        | par_metadata(issuer)
        | device_metadata()
    )
    if feature_enabled(Feature.REGISTRATION):
        document["registration_endpoint"] = f"{issuer}/register"  # RFC 7591 §3
    if feature_enabled(Feature.DPOP):  # RFC 9449 §5.1
        document["dpop_signing_alg_values_supported"] = list(DPOP_SIGNING_ALGS)
    return document


def openid_configuration() -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3: the RFC 8414 document plus the OIDC fields."""
    return authorization_server_metadata() | {
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "azp",
            "at_hash",
            "name",
            "preferred_username",
            "email",
            "email_verified",
        ],  # fmt: skip
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }

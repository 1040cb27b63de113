"""The API describing itself: OpenAPI at /api/v1/openapi.json and RFC 9728 metadata."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.api.auth import resource_identifier
from app.api.openapi import API_SCOPES, build_openapi
from app.config import API_PATH
from app.features import Feature, feature_enabled
from app.oauth.dpop import SIGNING_ALGS as DPOP_SIGNING_ALGS
from app.route_policy import declare, json_errors, no_rate_limit
from app.settings import settings

bp = declare(Blueprint("api_discovery", __name__), json_errors)
OPENAPI_PATH = f"{API_PATH}/openapi.json"
CACHE = "public, max-age=300"


def protected_resource_metadata() -> dict[str, Any]:
    """RFC 9728 §2."""
    issuer = settings().oauth_issuer
    document: dict[str, Any] = {
        "resource": resource_identifier(),
        "authorization_servers": [issuer],
        "scopes_supported": list(API_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "Tessera photo API",
        "resource_documentation": f"{issuer}{OPENAPI_PATH}",
    }
    if feature_enabled(Feature.DPOP):  # RFC 9728 §2, RFC 9449
        document["dpop_signing_alg_values_supported"] = list(DPOP_SIGNING_ALGS)
        document["dpop_bound_access_tokens_required"] = False
    return document


@bp.get(OPENAPI_PATH)
@no_rate_limit("a public document, cached by its readers")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of the photo API."""
    response = jsonify(build_openapi())
    response.headers["Cache-Control"] = CACHE
    return response


@bp.get("/.well-known/oauth-protected-resource")
@bp.get("/.well-known/oauth-protected-resource/<path:resource_path>")
@no_rate_limit("a public document, cached by its readers")
def resource_metadata(resource_path: str | None = None) -> ResponseReturnValue:
    """RFC 9728 protected resource metadata (also under the resource's own path, §3.1)."""
    response = jsonify(protected_resource_metadata())
    response.headers["Cache-Control"] = CACHE
    return response

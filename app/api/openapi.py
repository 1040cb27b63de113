"""The OpenAPI 3.1 document, generated from the schemas, the operations table and the scope
catalog (apispec + its marshmallow plugin)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.api import operations as ops
from app.api.operations import OPERATIONS, Operation
from app.api.schemas import ErrorSchema, PhotoPageSchema, PhotoSchema, PhotoUpdateSchema
from app.config import API_PATH
from app.scopes import CATALOG
from app.settings import settings

API_SCOPES = tuple(dict.fromkeys(op.scope for op in OPERATIONS))  # photos.read, photos.write


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": "Error"}},
    }


def _responses(operation: Operation) -> dict[str, Any]:
    ok: dict[Operation, dict[str, Any]] = {
        ops.LIST: {"200": {"description": "A page of photos",
                               "content": {"application/json": {"schema": "PhotoPage"}}}},
        ops.UPLOAD: {"201": {"description": "Stored; Location names the new photo",
                                "content": {"application/json": {"schema": "Photo"}}}},
        ops.GET: {"200": {"description": "The photo",
                             "content": {"application/json": {"schema": "Photo"}}}},
        ops.UPDATE: {"200": {"description": "The updated photo",
                                "content": {"application/json": {"schema": "Photo"}}}},
        ops.DELETE: {"204": {"description": "Deleted"}},
        ops.CONTENT: {
            "200": {"description": "The image", "content": {
                f"image/{kind}": {"schema": {"type": "string", "contentMediaType": f"image/{kind}"}}
                for kind in ("jpeg", "png", "webp", "gif")}},
            "304": {"description": "Not modified (If-None-Match)"},
        },
    }  # fmt: skip
    errors: dict[str, Any] = {
        "400": _error("Invalid request"),
        "401": _error("Missing, invalid, expired or revoked access token"),
        "403": _error("The token lacks the scope, or acts for no user"),
    }
    if "photo_id" in operation.path:
        errors["404"] = _error("No such photo (or not yours)")
    if operation is ops.UPLOAD:
        errors["413"] = _error(
            "Too many bytes or pixels (request_too_large), or the stored image would take the"
            " user past their storage quota (quota_exceeded, with used_bytes, quota_bytes and"
            " upload_bytes); nothing is stored"
        )
        errors["429"] = _error(
            "More uploads than PHOTO_UPLOAD_LIMIT_PER_CLIENT allows for the token's client;"
            " Retry-After says when to try again"
        )
        errors["415"] = _error("Not a JPEG, PNG, WebP or GIF image")
    if operation is ops.UPDATE:
        errors["415"] = _error("The body is not JSON")
    return ok[operation] | errors


def _request_body(operation: Operation) -> dict[str, Any] | None:
    if operation is ops.UPLOAD:
        upload = {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                "title": {"type": "string", "maxLength": 200},
                "description": {"type": "string", "maxLength": 2000},
            },
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": upload}}}
    if operation is ops.UPDATE:
        return {"required": True, "content": {"application/json": {"schema": "PhotoUpdate"}}}
    return None


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if "photo_id" in operation.path:
        params.append({"name": "photo_id", "in": "path", "required": True,
                       "schema": {"type": "string", "maxLength": 32}})  # fmt: skip
    if operation is ops.LIST:
        params += [
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
            {"name": "cursor", "in": "query", "required": False,
             "schema": {"type": "string", "maxLength": 200}},
        ]  # fmt: skip
    return params


def build_openapi() -> dict[str, Any]:
    issuer = settings().oauth_issuer
    scopes = {name: CATALOG[name].description for name in API_SCOPES}
    spec = APISpec(
        title="Tessera photo API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Bob's photos, for the clients he approved and nobody else."},
        servers=[{"url": f"{issuer}{API_PATH}"}],
    )
    for name, schema in (("Photo", PhotoSchema), ("PhotoPage", PhotoPageSchema),
                         ("PhotoUpdate", PhotoUpdateSchema), ("Error", ErrorSchema)):  # fmt: skip
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme("oauth2", {
        "type": "oauth2",
        "flows": {
            "authorizationCode": {"authorizationUrl": f"{issuer}/authorize",
                                  "tokenUrl": f"{issuer}/token", "scopes": scopes},
            "clientCredentials": {"tokenUrl": f"{issuer}/token", "scopes": scopes},
        },
    })  # fmt: skip
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "security": [{"oauth2": [op.scope]}],
            "parameters": _parameters(op),
            "responses": _responses(op),
        }
        body = _request_body(op)
        if body:
            entry["requestBody"] = body
        paths.setdefault(op.path, {})[op.method] = entry
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    return document

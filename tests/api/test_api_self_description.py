"""The API describes itself truthfully: OpenAPI 3.1 and RFC 9728 protected resource metadata.

OpenAPI Specification 3.1.0 (§4.8.27 Security Scheme Object, §4.8.28 OAuth Flows, §4.8.30
Security Requirement Object); RFC 9728 §2 (metadata: ``resource``, ``authorization_servers``),
§3.1 (well-known URI with the resource's path), §3.3 (``resource`` must match the URL it was
fetched from), §5.1 (``resource_metadata`` in the ``WWW-Authenticate`` challenge); RFC 9068 §3
(``aud`` of access tokens names the resource). Issue 4, Deliver item 5; docs/security.md RV-08
(the documented scope is the enforced scope).
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from werkzeug.test import TestResponse

from tests.api.conftest import PhotoApi, image_bytes, token_for
from tests.oauth.helpers import OAuthActions, RegisteredClient

API_SCOPES = {"photos.read", "photos.write"}
OTHER_SCOPE = {"photos.read": "photos.write", "photos.write": "photos.read"}


# -- helpers -----------------------------------------------------------------------------------
def json_of(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_json()
    assert isinstance(data, dict)
    return data


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.mimetype == "application/json"
    return json_of(response)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation object) for every documented operation."""
    methods = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in methods
    ]


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def call(api: PhotoApi, method: str, path: str) -> TestResponse:
    """Call a documented operation the way a client following the document would."""
    url = f"/api/v1{path}"
    if method == "post":
        form = {"file": (io.BytesIO(image_bytes()), "x.png", "image/png")}
        return api.http.post(
            url, data=form, headers=api.headers(), content_type="multipart/form-data"
        )
    if method == "patch":
        return api.http.patch(url, json={"title": "renamed"}, headers=api.headers())
    response: TestResponse = getattr(api.http, method)(url, headers=api.headers())
    return response


def challenge(response: TestResponse) -> dict[str, str]:
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


def schema_validator(document: dict[str, Any], name: str) -> OAS31Validator:
    """A validator for components/schemas/``name`` that resolves the document's $refs."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return OAS31Validator(schema)


def well_known_url_for(resource: str) -> str:
    """RFC 9728 §3.1: insert the well-known path between the host and the resource's path."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"


# -- the OpenAPI document --------------------------------------------------------------------------
def test_the_openapi_document_is_a_valid_openapi_3_1_document(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]


def test_the_document_names_the_api_under_the_issuer(app: Flask, document: dict[str, Any]) -> None:
    assert document["servers"] == [{"url": app.config["OAUTH_ISSUER"] + "/api/v1"}]


def test_the_oauth2_scheme_offers_code_and_client_credentials_with_the_photo_scopes(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["oauth2"]
    scheme = schemes["oauth2"]
    assert scheme["type"] == "oauth2"
    flows = scheme["flows"]
    assert set(flows) == {"authorizationCode", "clientCredentials"}
    for flow in flows.values():
        assert set(flow["scopes"]) == API_SCOPES
        assert all(isinstance(text, str) and text for text in flow["scopes"].values())

    server = json_of(client.get("/.well-known/oauth-authorization-server"))
    assert flows["authorizationCode"]["authorizationUrl"] == server["authorization_endpoint"]
    assert flows["authorizationCode"]["tokenUrl"] == server["token_endpoint"]
    assert flows["clientCredentials"]["tokenUrl"] == server["token_endpoint"]
    assert set(server["scopes_supported"]) >= API_SCOPES


def test_every_api_route_is_documented_and_nothing_else(
    app: Flask, document: dict[str, Any]
) -> None:
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented == served
    assert len(documented) == 6


def test_every_operation_has_an_id_and_requires_exactly_one_photo_scope(
    document: dict[str, Any],
) -> None:
    ids = []
    for path, method, operation in operations(document):
        ids.append(operation["operationId"])
        assert operation["security"] == [{"oauth2": [operation["security"][0]["oauth2"][0]]}]
        (scope,) = operation["security"][0]["oauth2"]
        expected = "photos.read" if method == "get" else "photos.write"
        assert scope == expected, (path, method)
        for status in ("401", "403"):
            assert status in operation["responses"], (path, method, status)
    assert len(ids) == len(set(ids))


@pytest.fixture
def photo_id(bob_api: PhotoApi) -> str:
    response = bob_api.upload(title="Documented")
    assert response.status_code == 201
    return str(response.get_json()["id"])


def test_the_scope_each_operation_documents_is_the_scope_its_route_enforces(
    app: Flask,
    document: dict[str, Any],
    bob_api: PhotoApi,
    photoprint: RegisteredClient,
    photo_id: str,
) -> None:
    """A token lacking the documented scope gets 403 naming it; one holding only it passes."""
    only: dict[str, PhotoApi] = {}
    for scope in API_SCOPES:
        oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
        only[scope] = PhotoApi(app.test_client(), token_for(oauth, photoprint, "bob", scope))
    # DELETE last, so the photo is there for every other operation.
    ordered = sorted(operations(document), key=lambda op: op[1] == "delete")
    for path, method, operation in ordered:
        (scope,) = operation["security"][0]["oauth2"]
        concrete = path.replace("{photo_id}", photo_id)
        refused = call(only[OTHER_SCOPE[scope]], method, concrete)
        assert refused.status_code == 403, (method, path, refused.get_data(as_text=True))
        assert challenge(refused)["error"] == "insufficient_scope"
        assert challenge(refused)["scope"] == scope, (method, path)
        allowed = call(only[scope], method, concrete)
        assert allowed.status_code < 400, (method, path, allowed.get_data(as_text=True))
        assert str(allowed.status_code) in operation["responses"], (method, path)


def test_responses_match_the_documented_schemas(
    document: dict[str, Any], bob_api: PhotoApi
) -> None:
    created = bob_api.upload(title="Schema")
    assert created.status_code == 201
    schema_validator(document, "Photo").validate(created.get_json())
    photo_id = created.get_json()["id"]

    schema_validator(document, "PhotoPage").validate(json_of(bob_api.get("/photos?limit=1")))
    schema_validator(document, "Photo").validate(json_of(bob_api.get(f"/photos/{photo_id}")))
    updated = bob_api.patch(photo_id, {"description": "checked"})
    schema_validator(document, "Photo").validate(json_of(updated))
    for error in (bob_api.get("/photos?limit=0"), bob_api.get("/photos/nope")):
        schema_validator(document, "Error").validate(error.get_json())


def _fields(schemas: dict[str, Any], name: str, *path: str) -> set[str]:
    """The property names of components/schemas/``name`` (or of a property nested in it)."""
    node = schemas[name]
    for key in path:
        node = node["properties"][key]
        if "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[1]]
    return set(node["properties"])


def test_a_photo_has_exactly_the_documented_fields(
    document: dict[str, Any], bob_api: PhotoApi
) -> None:
    """The photo and page bodies (built by hand for speed: schemas.photo_json, list_photos)
    and the published schemas name the same fields: one added on one side fails here."""
    schemas = document["components"]["schemas"]
    photo = bob_api.upload(title="Fields").get_json()
    assert set(photo) == _fields(schemas, "Photo") == set(schemas["Photo"]["required"])
    assert set(photo["links"]) == _fields(schemas, "Photo", "links")
    page = json_of(bob_api.get("/photos?limit=1"))
    assert set(page) == _fields(schemas, "PhotoPage")
    assert set(page["links"]) == _fields(schemas, "PhotoPage", "links")


def _patch_form(api: PhotoApi, photo_id: str) -> TestResponse:
    return api.http.patch(
        f"/api/v1/photos/{photo_id}",
        data="title=x",
        headers=api.headers(),
        content_type="application/x-www-form-urlencoded",
    )


def _conditional_content(api: PhotoApi, photo_id: str) -> TestResponse:
    etag = api.get(f"/photos/{photo_id}/content").headers["ETag"]
    return api.get(f"/photos/{photo_id}/content", **{"If-None-Match": etag})


SENDERS: dict[str, tuple[str, str, Any]] = {
    "list-bad-limit": ("listPhotos", "400", lambda api, pid: api.get("/photos?limit=0")),
    "get-unknown": ("getPhoto", "404", lambda api, pid: api.get("/photos/nope")),
    "upload-html": ("uploadPhoto", "415", lambda api, pid: api.upload(b"<html>")),
    "upload-long-title": ("uploadPhoto", "400", lambda api, pid: api.upload(title="x" * 201)),
    "patch-unknown-field": ("updatePhoto", "400", lambda api, pid: api.patch(pid, {"owner": 1})),
    "patch-form-body": ("updatePhoto", "415", _patch_form),
    "delete-unknown": ("deletePhoto", "404", lambda api, pid: api.delete("nope")),
    "content-not-modified": ("getPhotoContent", "304", _conditional_content),
}


@pytest.mark.parametrize("case", list(SENDERS))
def test_every_status_a_route_answers_is_documented_for_it(
    document: dict[str, Any], bob_api: PhotoApi, photo_id: str, case: str
) -> None:
    operation_id, status, send = SENDERS[case]
    response = send(bob_api, photo_id)
    assert str(response.status_code) == status, response.get_data(as_text=True)[:300]
    (operation,) = [op for _, _, op in operations(document) if op["operationId"] == operation_id]
    assert status in operation["responses"], f"{operation_id} answers {status} undocumented"


def test_the_document_is_public_and_cacheable(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]


# -- RFC 9728 protected resource metadata ----------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/v1"],
)
def test_resource_metadata_names_the_tokens_audience_and_this_issuer(
    app: Flask, client: FlaskClient, bob_api: PhotoApi, path: str
) -> None:
    metadata = json_of(client.get(path))
    claims = claims_of(bob_api.token)
    assert metadata["resource"] == claims["aud"]
    assert metadata["resource"] == app.config["OAUTH_RESOURCE_AUDIENCE"]
    assert metadata["authorization_servers"] == [app.config["OAUTH_ISSUER"]]
    assert metadata["authorization_servers"] == [claims["iss"]]
    assert set(metadata["scopes_supported"]) == API_SCOPES
    assert metadata["bearer_methods_supported"] == ["header"]

    server = json_of(client.get("/.well-known/oauth-authorization-server"))
    assert server["issuer"] == metadata["authorization_servers"][0]


def test_the_challenges_resource_metadata_url_answers_with_matching_metadata(
    app: Flask, client: FlaskClient
) -> None:
    unauthenticated = client.get("/api/v1/photos")
    assert unauthenticated.status_code == 401
    url = challenge(unauthenticated)["resource_metadata"]
    issuer = app.config["OAUTH_ISSUER"]
    assert url.startswith(issuer + "/.well-known/oauth-protected-resource")

    metadata = json_of(client.get(url.removeprefix(issuer)))
    # RFC 9728 §3.3: the metadata's resource must be the one the URL was built from.
    assert well_known_url_for(metadata["resource"]) == url
    assert metadata["authorization_servers"] == [issuer]


def test_the_resource_documentation_link_answers(client: FlaskClient, app: Flask) -> None:
    metadata = json_of(client.get("/.well-known/oauth-protected-resource/api/v1"))
    documentation = metadata.get("resource_documentation")
    if documentation is None:
        return
    issuer = app.config["OAUTH_ISSUER"]
    assert documentation.startswith(issuer)
    assert client.get(documentation.removeprefix(issuer)).status_code == 200

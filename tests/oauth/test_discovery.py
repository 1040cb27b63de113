"""Discovery: RFC 8414 authorization server metadata and OpenID Connect Discovery 1.0.

Covers RFC 8414 §2, §3.3 (issuer identical everywhere); RFC 9207 §3
(authorization_response_iss_parameter_supported); RFC 7636 / OAuth 2.1 §4.1.1 (S256 only);
OIDC Discovery §3; docs/security.md ST-02, PK-02 (advertised methods), AC-09 (advertised grants).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.oauth.helpers import OAuthActions, RegisteredClient, query_of

ISSUER = "http://127.0.0.1:5000"
OAUTH_DOC = "/.well-known/oauth-authorization-server"
OIDC_DOC = "/.well-known/openid-configuration"
CATALOG_SCOPES = ["openid", "profile", "email", "offline_access", "photos.read", "photos.write"]
ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "device_authorization_endpoint",
)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def document(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data: dict[str, Any] = response.json  # type: ignore[assignment]
    return data


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_discovery_document_names_the_configured_issuer_and_endpoints_under_it(
    client: FlaskClient, path: str
) -> None:
    doc = document(client, path)
    assert doc["issuer"] == ISSUER
    for field in ENDPOINT_FIELDS:
        assert doc[field].startswith(ISSUER + "/"), field


def test_both_discovery_documents_agree_on_issuer_and_endpoints(client: FlaskClient) -> None:
    oauth_doc = document(client, OAUTH_DOC)
    oidc_doc = document(client, OIDC_DOC)
    for field in ("issuer", *ENDPOINT_FIELDS):
        assert oauth_doc[field] == oidc_doc[field], field
    shared = set(oauth_doc) & set(oidc_doc)
    assert {k: oauth_doc[k] for k in shared} == {k: oidc_doc[k] for k in shared}


@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_discovery_advertises_only_s256_the_code_response_type_and_the_four_grants(
    client: FlaskClient, path: str
) -> None:
    doc = document(client, path)
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert sorted(doc["grant_types_supported"]) == sorted(
        ["authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT]
    )
    assert doc["authorization_response_iss_parameter_supported"] is True


@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_scopes_supported_is_exactly_the_scope_catalog(client: FlaskClient, path: str) -> None:
    assert document(client, path)["scopes_supported"] == CATALOG_SCOPES


@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_token_endpoint_auth_methods_and_algorithms_are_advertised_without_none_or_hmac(
    client: FlaskClient, path: str
) -> None:
    doc = document(client, path)
    assert sorted(doc["token_endpoint_auth_methods_supported"]) == sorted(
        ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    )
    algs = doc["token_endpoint_auth_signing_alg_values_supported"]
    assert algs and not [alg for alg in algs if alg == "none" or alg.startswith("HS")]


def test_openid_configuration_lists_the_id_token_algorithms_the_jwks_can_verify(
    client: FlaskClient,
) -> None:
    doc = document(client, OIDC_DOC)
    assert sorted(doc["id_token_signing_alg_values_supported"]) == ["ES256", "RS256"]
    assert doc["subject_types_supported"] == ["public"]
    jwks = document(client, doc["jwks_uri"].removeprefix(ISSUER))
    published_algs = {key["alg"] for key in jwks["keys"]}
    assert set(doc["id_token_signing_alg_values_supported"]) <= published_algs


@pytest.mark.parametrize(
    ("field", "method"),
    [
        ("authorization_endpoint", "GET"),
        ("token_endpoint", "POST"),
        ("jwks_uri", "GET"),
        ("revocation_endpoint", "POST"),
        ("introspection_endpoint", "POST"),
        ("userinfo_endpoint", "GET"),
        ("userinfo_endpoint", "POST"),
        ("end_session_endpoint", "GET"),
        ("device_authorization_endpoint", "POST"),
    ],
)
@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_every_advertised_endpoint_answers(
    client: FlaskClient, path: str, field: str, method: str
) -> None:
    url = document(client, path)[field]
    response = client.open(url.removeprefix(ISSUER), method=method)
    assert response.status_code not in (404, 405), (field, response.status_code)
    assert response.status_code < 500


@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_device_flow_is_advertised_while_enabled(client: FlaskClient, path: str) -> None:
    """RFC 8628 §4: device_authorization_endpoint, and the grant type."""
    doc = document(client, path)
    assert doc["device_authorization_endpoint"] == f"{ISSUER}/device_authorization"
    assert DEVICE_GRANT in doc["grant_types_supported"]


@pytest.mark.parametrize("app_config", [{"DEVICE_FLOW_ENABLED": False}], indirect=True)
@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_device_flow_is_not_advertised_while_disabled(client: FlaskClient, path: str) -> None:
    doc = document(client, path)
    assert "device_authorization_endpoint" not in doc
    assert sorted(doc["grant_types_supported"]) == sorted(
        ["authorization_code", "refresh_token", "client_credentials"]
    )


@pytest.mark.parametrize("app_config", [{"OAUTH_ISSUER": "http://localhost:5001/"}], indirect=True)
@pytest.mark.parametrize("path", [OAUTH_DOC, OIDC_DOC])
def test_discovery_follows_the_configured_issuer_without_a_trailing_slash(
    client: FlaskClient, path: str
) -> None:
    doc = document(client, path)
    assert doc["issuer"] == "http://localhost:5001"
    assert doc["token_endpoint"] == "http://localhost:5001/token"


def test_one_issuer_string_in_discovery_authorization_response_and_tokens(
    client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    """RFC 9207 §2 / RFC 8414 §3.3: iss on the redirect == discovery issuer == token iss."""
    issuer = document(client, OIDC_DOC)["issuer"]
    assert document(client, OAUTH_DOC)["issuer"] == issuer
    flow = oauth.approve(conf, scope="openid profile")
    assert flow.params["iss"] == issuer
    response = oauth.exchange(conf, flow)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert claims_of(body["access_token"])["iss"] == issuer
    assert claims_of(body["id_token"])["iss"] == issuer
    assert oauth.introspect(conf, body["access_token"]).json["iss"] == issuer  # type: ignore[index]


def test_error_redirects_carry_the_discovery_issuer_too(
    client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    issuer = document(client, OIDC_DOC)["issuer"]
    oauth.sign_in()
    response, _ = oauth.authorize(conf, prompt="none")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://app.test/cb?")
    params = query_of(location)
    assert params["error"] == "consent_required"
    assert params["iss"] == issuer

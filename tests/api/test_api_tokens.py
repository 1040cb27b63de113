"""The photo API's bearer checks: who may call, with which token, for how long.

RFC 6750 §2.1 (Authorization header), §2.3 (no query-string tokens, OAuth 2.1 §5.1), §3 and
§3.1 (the challenge: no error code without a token, ``invalid_token`` 401,
``insufficient_scope`` 403 with ``scope``); RFC 9728 §5.1 (``resource_metadata`` in the
challenge); RFC 9068 §4 (iss, aud, exp, signature, ``typ``); RFC 7009 §2.1 (revocation takes
effect); RFC 9700 §4.14.2 (refresh-token reuse revokes the grant), §4.15 (client credentials).
docs/security.md rows RV-01, RV-02, RV-07, RV-08, RV-09, API-02; issue 4, Deliver item 3.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.extensions import db
from tests.api.conftest import PhotoApi, image_bytes, token_for
from tests.factories import UserFactory
from tests.lanes import Clock
from tests.live import LiveServer
from tests.oauth.helpers import OAuthActions, RegisteredClient

RW = "openid photos.read photos.write"
OFFLINE_RW = "openid offline_access photos.read photos.write"
SECOND_ISSUER = "http://localhost:5001"


@pytest.fixture
def app_config(app_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """Tests may pass extra settings with ``indirect=["app_config"]``."""
    extra: dict[str, Any] = getattr(request, "param", {})
    return app_config | extra


# -- helpers -----------------------------------------------------------------------------------
def b64json(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def challenge(response: TestResponse | requests.Response) -> dict[str, str]:
    """The Bearer challenge's auth-params (RFC 6750 §3) as a dict."""
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


def metadata_url(app: Flask) -> str:
    return str(app.config["OAUTH_ISSUER"]) + "/.well-known/oauth-protected-resource/api/v1"


def assert_invalid_token(app: Flask, response: TestResponse) -> None:
    """RFC 6750 §3.1: 401 with ``error="invalid_token"`` in the challenge and the body."""
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    params = challenge(response)
    assert params["realm"] == "tessera"
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == metadata_url(app)
    assert "scope" not in params
    body = response.get_json()
    assert body is not None and body["error"] == "invalid_token"


def assert_insufficient_scope(app: Flask, response: TestResponse, scope: str) -> None:
    """RFC 6750 §3.1: 403 ``insufficient_scope`` naming the scope needed."""
    assert response.status_code == 403, response.get_data(as_text=True)[:300]
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == scope
    assert params["resource_metadata"] == metadata_url(app)
    body = response.get_json()
    assert body is not None and body["error"] == "insufficient_scope"


def fresh_token(app: Flask, client: RegisteredClient, username: str, scope: str) -> str:
    """A token through a new browser (its own cookies), so any user can sign in."""
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    return token_for(oauth, client, username, scope)


def api_with(app: Flask, token: str) -> PhotoApi:
    return PhotoApi(app.test_client(), token)


def every_route(api: PhotoApi, photo_id: str) -> list[tuple[str, TestResponse]]:
    return [
        ("list", api.get("/photos")),
        ("upload", api.upload()),
        ("read", api.get(f"/photos/{photo_id}")),
        ("patch", api.patch(photo_id, {"title": "changed"})),
        ("content", api.get(f"/photos/{photo_id}/content")),
        ("delete", api.delete(photo_id)),
    ]


@pytest.fixture
def photo_id(bob_api: PhotoApi) -> str:
    response = bob_api.upload(title="Mine")
    assert response.status_code == 201
    return str(response.get_json()["id"])


def assert_photo_untouched(bob_api: PhotoApi, photo_id: str) -> None:
    """The photo is still there with its title, and no other photo appeared."""
    listed = bob_api.get("/photos").get_json()
    assert listed is not None
    assert [(item["id"], item["title"]) for item in listed["items"]] == [(photo_id, "Mine")]


# -- RV-07: RFC 6750 challenges --------------------------------------------------------------------
def test_a_request_without_a_token_gets_a_bare_bearer_challenge_naming_the_metadata(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get("/api/v1/photos")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="tessera", resource_metadata="{metadata_url(app)}"'
    )
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/photos"),
        ("post", "/photos"),
        ("get", "/photos/abc"),
        ("patch", "/photos/abc"),
        ("delete", "/photos/abc"),
        ("get", "/photos/abc/content"),
    ],
)
def test_every_route_needs_a_token(app: Flask, client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(f"/api/v1{path}")
    assert response.status_code == 401
    assert challenge(response) == {"realm": "tessera", "resource_metadata": metadata_url(app)}


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-a-token", id="garbage"),
        pytest.param("Bearer a.b.c", id="three-garbage-parts"),
        pytest.param("Bearer " + "A" * 5000, id="long"),
        pytest.param("Bearer eyJhbGciOiJub25lIn0.e30.", id="alg-none"),
    ],
)
def test_a_bad_token_gets_invalid_token(
    app: Flask, client: FlaskClient, authorization: str
) -> None:
    response = client.get("/api/v1/photos", headers={"Authorization": authorization})
    assert_invalid_token(app, response)


@pytest.mark.parametrize("scheme", ["Basic", "Token", "MAC"])
def test_a_valid_token_under_another_scheme_is_no_token(
    app: Flask, bob_api: PhotoApi, scheme: str
) -> None:
    response = bob_api.http.get(
        "/api/v1/photos", headers={"Authorization": f"{scheme} {bob_api.token}"}
    )
    assert response.status_code == 401
    assert "error" not in challenge(response)


def test_the_bearer_scheme_name_is_case_insensitive(bob_api: PhotoApi) -> None:
    response = bob_api.http.get(
        "/api/v1/photos", headers={"Authorization": f"bearer {bob_api.token}"}
    )
    assert response.status_code == 200


def test_a_token_in_the_query_string_is_ignored(app: Flask, bob_api: PhotoApi) -> None:
    assert bob_api.get("/photos").status_code == 200  # the token itself is good
    response = bob_api.http.get(f"/api/v1/photos?access_token={bob_api.token}")
    assert response.status_code == 401
    assert challenge(response) == {"realm": "tessera", "resource_metadata": metadata_url(app)}


def test_a_token_in_a_form_body_is_ignored(
    app: Flask, bob_api: PhotoApi, instance_path: Any
) -> None:
    response = bob_api.http.post(
        "/api/v1/photos",
        data={
            "access_token": bob_api.token,
            "file": (io.BytesIO(image_bytes()), "x.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 401
    assert "error" not in challenge(response)
    assert bob_api.get("/photos").get_json()["items"] == []


# -- RV-08: scope per route ------------------------------------------------------------------------
def test_a_read_only_token_cannot_upload_change_or_delete(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, photo_id: str
) -> None:
    reader = api_with(app, fresh_token(app, photoprint, "bob", "openid photos.read"))
    assert reader.get("/photos").status_code == 200
    assert reader.get(f"/photos/{photo_id}").status_code == 200
    assert reader.get(f"/photos/{photo_id}/content").status_code == 200
    for response in (
        reader.upload(),
        reader.patch(photo_id, {"title": "changed"}),
        reader.delete(photo_id),
    ):
        assert_insufficient_scope(app, response, "photos.write")
    assert_photo_untouched(bob_api, photo_id)


def test_a_write_only_token_cannot_list_read_or_download(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, photo_id: str
) -> None:
    writer = api_with(app, fresh_token(app, photoprint, "bob", "openid photos.write"))
    for path in ("/photos", f"/photos/{photo_id}", f"/photos/{photo_id}/content"):
        assert_insufficient_scope(app, writer.get(path), "photos.read")


def test_an_openid_profile_token_opens_no_photo_route(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, photo_id: str
) -> None:
    profile = api_with(app, fresh_token(app, photoprint, "bob", "openid profile"))
    for name, response in every_route(profile, photo_id):
        scope = "photos.write" if name in ("upload", "patch", "delete") else "photos.read"
        assert_insufficient_scope(app, response, scope)
    assert_photo_untouched(bob_api, photo_id)


# -- API-02: a client acting for itself ------------------------------------------------------------
def test_a_client_credentials_token_cannot_act_for_a_user(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, bob_api: PhotoApi, photo_id: str
) -> None:
    issued = oauth.token(cc, grant_type="client_credentials", scope="photos.read")
    assert issued.status_code == 200, issued.get_data(as_text=True)
    machine = api_with(app, issued.get_json()["access_token"])
    for path in ("/photos", f"/photos/{photo_id}", f"/photos/{photo_id}/content"):
        response = machine.get(path)
        assert response.status_code == 403, response.get_data(as_text=True)
        body = response.get_json()
        assert body is not None and body["error"] == "forbidden"
        assert photo_id not in response.get_data(as_text=True)


def test_a_client_credentials_token_with_write_scope_cannot_upload(
    app: Flask, oauth: OAuthActions, pkj: RegisteredClient, bob_api: PhotoApi, photo_id: str
) -> None:
    issued = oauth.token(pkj, grant_type="client_credentials", scope="photos.read photos.write")
    assert issued.status_code == 200, issued.get_data(as_text=True)
    machine = api_with(app, issued.get_json()["access_token"])
    for name, response in every_route(machine, photo_id):
        assert response.status_code == 403, (name, response.get_data(as_text=True))
        assert response.get_json()["error"] == "forbidden"
    assert_photo_untouched(bob_api, photo_id)


# -- RV-01, RV-02: revocation takes effect on the next call ----------------------------------------
def test_an_access_token_revoked_at_revoke_fails_on_the_next_call(
    app: Flask, oauth: OAuthActions, photoprint: RegisteredClient, bob_api: PhotoApi
) -> None:
    assert bob_api.get("/photos").status_code == 200
    revoked = oauth.revoke(photoprint, bob_api.token, token_type_hint="access_token")
    assert revoked.status_code == 200
    for path in ("/photos", "/photos/abc"):
        assert_invalid_token(app, bob_api.get(path))
    assert_invalid_token(app, bob_api.upload())


def test_revoking_one_access_token_leaves_another_grant_working(
    app: Flask, oauth: OAuthActions, photoprint: RegisteredClient, bob_api: PhotoApi
) -> None:
    other = api_with(app, fresh_token(app, photoprint, "bob", RW))
    assert oauth.revoke(photoprint, bob_api.token).status_code == 200
    assert_invalid_token(app, bob_api.get("/photos"))
    assert other.get("/photos").status_code == 200


def test_revoking_the_refresh_token_kills_the_grants_access_tokens(
    app: Flask, photoprint: RegisteredClient, bob: Any
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    tokens = oauth.tokens_for(photoprint, username="bob", scope=OFFLINE_RW)
    api = api_with(app, tokens["access_token"])
    assert api.get("/photos").status_code == 200
    revoked = oauth.revoke(photoprint, tokens["refresh_token"], token_type_hint="refresh_token")
    assert revoked.status_code == 200
    assert_invalid_token(app, api.get("/photos"))


def test_refresh_token_reuse_revokes_every_access_token_of_the_grant(
    app: Flask, photoprint: RegisteredClient, bob: Any
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    first = oauth.tokens_for(photoprint, username="bob", scope=OFFLINE_RW)
    second_response = oauth.token(
        photoprint, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert second_response.status_code == 200
    second: dict[str, Any] = second_response.get_json()
    for token in (first["access_token"], second["access_token"]):
        assert api_with(app, token).get("/photos").status_code == 200

    replay = oauth.token(
        photoprint, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        assert_invalid_token(app, api_with(app, token).get("/photos"))


def test_disabling_the_user_fails_their_tokens_on_the_next_call(
    app: Flask, users: UserFactory, bob_api: PhotoApi, alice_api: PhotoApi
) -> None:
    assert bob_api.get("/photos").status_code == 200
    users.disable("bob")
    assert_invalid_token(app, bob_api.get("/photos"))
    assert_invalid_token(app, bob_api.upload())
    assert alice_api.get("/photos").status_code == 200


@pytest.mark.parametrize("app_config", [{"OAUTH_ACCESS_TOKEN_TTL": 1}], indirect=True)
def test_an_expired_access_token_is_invalid_token(
    app: Flask, bob_api: PhotoApi, clock: Clock
) -> None:
    claims = claims_of(bob_api.token)
    assert claims["exp"] - claims["iat"] == 1
    clock.advance(2)
    assert_invalid_token(app, bob_api.get("/photos"))


# -- RFC 9068 §4: issuer, audience, signature, type ------------------------------------------------
@pytest.fixture
def second_tessera(
    app: Flask, app_config: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[Flask]:
    """Another Tessera on the same database (shared clients, users and signing keys)."""
    other = create_app(app_config | request.param)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    "second_tessera",
    [
        pytest.param({"OAUTH_ISSUER": SECOND_ISSUER}, id="other-issuer"),
        pytest.param(
            {"OAUTH_RESOURCE_AUDIENCE": "https://photos.elsewhere.test/api/v1"}, id="other-audience"
        ),
    ],
    indirect=True,
)
def test_a_token_minted_for_another_deployment_or_resource_is_invalid_token(
    app: Flask, second_tessera: Flask, photoprint: RegisteredClient, bob: Any
) -> None:
    token = fresh_token(second_tessera, photoprint, "bob", RW)
    claims = claims_of(token)
    assert claims["iss"] == second_tessera.config["OAUTH_ISSUER"]
    assert claims["aud"] == second_tessera.config["OAUTH_RESOURCE_AUDIENCE"]
    assert (claims["iss"], claims["aud"]) != (
        app.config["OAUTH_ISSUER"],
        app.config["OAUTH_RESOURCE_AUDIENCE"],
    )
    assert api_with(second_tessera, token).get("/photos").status_code == 200
    assert_invalid_token(app, api_with(app, token).get("/photos"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"scope": "openid photos.read photos.write photos.admin"}, id="scope"),
        pytest.param({"sub": "999999"}, id="sub"),
        pytest.param({"exp": 4102444800}, id="exp"),
        pytest.param({"aud": "http://127.0.0.1:5000/api/v2"}, id="aud"),
        pytest.param({"client_id": "someone-else"}, id="client_id"),
    ],
)
def test_a_tampered_payload_under_the_original_signature_is_invalid_token(
    app: Flask, bob_api: PhotoApi, alice_api: PhotoApi, change: dict[str, Any]
) -> None:
    header, _, signature = bob_api.token.split(".")
    forged = f"{header}.{b64json(claims_of(bob_api.token) | change)}.{signature}"
    assert_invalid_token(app, api_with(app, forged).get("/photos"))


def test_a_payload_pointed_at_another_users_grant_is_invalid_token(
    app: Flask, bob_api: PhotoApi, alice_api: PhotoApi
) -> None:
    alice_photo = alice_api.upload().get_json()["id"]
    header, _, signature = bob_api.token.split(".")
    alice = claims_of(alice_api.token)
    forged_claims = claims_of(bob_api.token) | {"sub": alice["sub"], "gid": alice["gid"]}
    forged = f"{header}.{b64json(forged_claims)}.{signature}"
    response = api_with(app, forged).get(f"/photos/{alice_photo}")
    assert_invalid_token(app, response)


def test_an_id_token_is_not_an_access_token(
    app: Flask, photoprint: RegisteredClient, bob: Any
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    tokens = oauth.tokens_for(photoprint, username="bob", scope=RW, nonce="n-1")
    assert api_with(app, tokens["access_token"]).get("/photos").status_code == 200
    assert_invalid_token(app, api_with(app, tokens["id_token"]).get("/photos"))


def test_a_refresh_token_is_not_an_access_token(
    app: Flask, photoprint: RegisteredClient, bob: Any
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    tokens = oauth.tokens_for(photoprint, username="bob", scope=OFFLINE_RW)
    assert_invalid_token(app, api_with(app, tokens["refresh_token"]).get("/photos"))


# -- RV-01 across processes: a live gunicorn with two workers --------------------------------------
def test_revocation_holds_in_every_worker_of_a_live_server(
    app: Flask,
    app_config: dict[str, Any],
    live_server: LiveServer,
    photoprint: RegisteredClient,
    bob: Any,
) -> None:
    twin = create_app(app_config | {"OAUTH_ISSUER": live_server.url})
    try:
        token = fresh_token(twin, photoprint, "bob", RW)
    finally:
        with twin.app_context():
            db.session.remove()
            db.engine.dispose()
    url = f"{live_server.url}/api/v1/photos"
    headers = {"Authorization": f"Bearer {token}"}

    before = [requests.get(url, headers=headers, timeout=10).status_code for _ in range(10)]
    assert before == [200] * 10, live_server.log()[-2000:]

    revoked = requests.post(
        f"{live_server.url}/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(photoprint.client_id, photoprint.client_secret or ""),
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text

    after = [requests.get(url, headers=headers, timeout=10) for _ in range(10)]
    assert [r.status_code for r in after] == [401] * 10
    for response in after:
        assert challenge(response)["error"] == "invalid_token"

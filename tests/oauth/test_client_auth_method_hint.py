"""A client using another authentication method than the one it is registered for is told which.

Issue 16: openid-client's default and requests-oauthlib's ``refresh_token(client_id=,
client_secret=)`` send client_secret_post; a client registered for client_secret_basic got a
bare "Client authentication failed.". The error_description now names the registered method,
decided before any secret is checked, so a right and a wrong secret get the same answer. An
unknown client, and a wrong secret sent the registered way, keep the generic answer
(RFC 6749 §5.2 shape, 401 with a Basic challenge) at every client-authenticated endpoint.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient

GENERIC = "Client authentication failed."
ENDPOINT_FORMS: dict[str, dict[str, str]] = {
    "/token": {"grant_type": "refresh_token", "refresh_token": "some-refresh-token"},
    "/introspect": {"token": "some-token"},
    "/revoke": {"token": "some-token"},
    "/par": {"response_type": "code", "scope": "openid"},
    "/device_authorization": {"scope": "openid"},
}
ENDPOINTS = list(ENDPOINT_FORMS)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def by_post(client_id: str, secret: str) -> tuple[dict[str, str], dict[str, str]]:
    return {"client_id": client_id, "client_secret": secret}, {}


def by_basic(client_id: str, secret: str) -> tuple[dict[str, str], dict[str, str]]:
    return {}, basic(client_id, secret)


def send(oauth: OAuthActions, endpoint: str, credentials: Any) -> TestResponse:
    form, headers = credentials
    return oauth.http.post(endpoint, data=ENDPOINT_FORMS[endpoint] | form, headers=headers)


def refusal(response: TestResponse) -> str:
    """The error_description of an RFC 6749 §5.2 invalid_client answer (401, Basic challenge)."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None and body["error"] == "invalid_client", body
    assert not {"access_token", "request_uri", "device_code", "active"} & set(body)
    return str(body["error_description"])


@pytest.fixture
def post_client(clients: ClientFactory) -> RegisteredClient:
    return clients.create(
        redirect_uris=["https://post.test/cb"],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid photos.read",
        token_endpoint_auth_method="client_secret_post",
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_basic_client_sending_client_secret_post_is_told_its_method(
    oauth: OAuthActions, conf: RegisteredClient, endpoint: str
) -> None:
    """The same answer, byte for byte, with the right secret and with a wrong one."""
    right = send(oauth, endpoint, by_post(conf.client_id, conf.client_secret or ""))
    wrong = send(oauth, endpoint, by_post(conf.client_id, "wrong-secret"))
    assert refusal(right) == (
        "This client is registered for client_secret_basic; the request used client_secret_post."
    )
    assert right.get_data() == wrong.get_data()
    assert right.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_post_client_sending_client_secret_basic_is_told_its_method(
    oauth: OAuthActions, post_client: RegisteredClient, endpoint: str
) -> None:
    right = send(oauth, endpoint, by_basic(post_client.client_id, post_client.client_secret or ""))
    wrong = send(oauth, endpoint, by_basic(post_client.client_id, "wrong-secret"))
    assert refusal(right) == (
        "This client is registered for client_secret_post; the request used client_secret_basic."
    )
    assert right.get_data() == wrong.get_data()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("how", [by_basic, by_post], ids=["basic", "post"])
def test_an_unknown_client_gets_the_generic_answer(
    oauth: OAuthActions, endpoint: str, how: Any
) -> None:
    assert refusal(send(oauth, endpoint, how("no-such-client", "some-secret"))) == GENERIC


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_wrong_secret_sent_the_registered_way_gets_the_generic_answer(
    oauth: OAuthActions, conf: RegisteredClient, post_client: RegisteredClient, endpoint: str
) -> None:
    assert refusal(send(oauth, endpoint, by_basic(conf.client_id, "wrong-secret"))) == GENERIC
    assert refusal(send(oauth, endpoint, by_post(post_client.client_id, "wrong"))) == GENERIC


def test_a_public_client_sending_a_secret_and_a_confidential_one_sending_none_are_told(
    oauth: OAuthActions, conf: RegisteredClient, pub: RegisteredClient
) -> None:
    public = send(oauth, "/token", by_post(pub.client_id, "anything"))
    assert refusal(public) == (
        "This client is registered for none (no client credentials); "
        "the request used client_secret_post."
    )
    bare = oauth.http.post("/token", data=ENDPOINT_FORMS["/token"] | {"client_id": conf.client_id})
    assert refusal(bare) == (
        "This client is registered for client_secret_basic; "
        "the request used none (no client credentials)."
    )


def test_the_registered_method_still_works(
    oauth: OAuthActions, conf: RegisteredClient, post_client: RegisteredClient
) -> None:
    """Nothing changes for a client that uses its method: /introspect answers it."""
    for client, credentials in (
        (conf, by_basic(conf.client_id, conf.client_secret or "")),
        (post_client, by_post(post_client.client_id, post_client.client_secret or "")),
    ):
        response = send(oauth, "/introspect", credentials)
        assert response.status_code == 200, (client.client_id, response.get_data(as_text=True))
        assert response.json == {"active": False}


@pytest.mark.limits(CLIENT_AUTH_FAILURE_LIMIT="3 per minute")
def test_method_mismatches_count_as_client_authentication_failures(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    """The per-client failure throttle is unchanged: the right secret sent the wrong way counts
    like a wrong secret, and after the limit even the registered way waits."""
    for _ in range(3):
        mismatch = send(oauth, "/introspect", by_post(conf.client_id, conf.client_secret or ""))
        assert refusal(mismatch).startswith("This client is registered for client_secret_basic")
    throttled = send(oauth, "/introspect", by_basic(conf.client_id, conf.client_secret or ""))
    assert throttled.status_code == 429, throttled.get_data(as_text=True)
    assert throttled.json["error"] == "too_many_requests"  # type: ignore[index]

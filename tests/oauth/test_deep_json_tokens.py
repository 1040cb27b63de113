"""A JWT whose JSON is nested thousands deep is refused like any other malformed one, not 500."""

from __future__ import annotations

import base64

from flask.testing import FlaskClient

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

DEEP = "[" * 2000 + "]" * 2000  # past the json module's recursion limit


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


HEADER = '{"alg":"RS256"}'
DEEP_PAYLOAD_JWT = f"{_b64(HEADER)}.{_b64(DEEP)}.c2ln"
DEEP_HEADER_JWT = f"{_b64(DEEP)}.{_b64('{}')}.c2ln"


def test_a_deeply_nested_client_assertion_is_invalid_client(client: FlaskClient) -> None:
    for assertion in (DEEP_PAYLOAD_JWT, DEEP_HEADER_JWT):
        response = client.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        assert response.status_code in (400, 401), response.data
        assert response.json["error"] in ("invalid_client", "invalid_request")


def test_a_deeply_nested_id_token_hint_is_invalid_request(client: FlaskClient) -> None:
    for hint in (DEEP_PAYLOAD_JWT, DEEP_HEADER_JWT):
        response = client.get("/end-session", query_string={"id_token_hint": hint})
        assert response.status_code == 400, response.data

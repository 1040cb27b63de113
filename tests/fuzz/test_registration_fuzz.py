"""Hypothesis against dynamic client registration (RFC 7591) and update (RFC 7592 §2.2).

Each example takes a good registration body and puts a generated JSON value into one field
(any metadata field, or an unknown one). For every answer: 201/200 or a 400 with an RFC 7591
§3.2.2 error code and an RFC 6749 §5.2-safe description, ``no-store``, never a 500; a refused
registration stores no client, a refused update changes nothing; and whatever registration
accepted, an update with the same body accepts too (one set of rules).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ_SETTINGS
from tests.oauth.registration_helpers import WEB_APP, Registrar, client_count

pytestmark = pytest.mark.fuzz

FIELDS = (
    "client_name", "redirect_uris", "grant_types", "response_types", "scope",
    "token_endpoint_auth_method", "jwks", "jwks_uri", "client_uri", "logo_uri", "policy_uri",
    "tos_uri", "contacts", "post_logout_redirect_uris", "id_token_signed_response_alg",
    "software_statement", "client_id", "client_secret", "unknown_field",
)  # fmt: skip
ERRORS = {"invalid_redirect_uri", "invalid_client_metadata", "invalid_software_statement"}
OAUTH_ERROR_DESCRIPTION = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
URLISH = st.sampled_from(["https://print.test/cb", "http://127.0.0.1/cb", "https://*.x/cb", ""])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT | URLISH,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"REGISTRATION_MODE": "open", "REGISTRATION_LIMIT_PER_IP": "100000/hour"}


def assert_well_formed(response: Any, ok: int) -> None:
    assert response.status_code in (ok, 400), response.get_data(as_text=True)[:300]
    assert response.headers["Cache-Control"] == "no-store"
    if response.status_code == 400:
        assert response.json["error"] in ERRORS, response.json
        assert OAUTH_ERROR_DESCRIPTION.fullmatch(response.json["error_description"])


def test_any_field_value_is_registered_whole_or_refused_cleanly(
    app: Flask, client: FlaskClient
) -> None:
    registrar = Registrar(app, client)

    @FUZZ_SETTINGS
    @given(field=st.sampled_from(FIELDS), value=JSON)
    def run(field: str, value: Any) -> None:
        body = WEB_APP | {field: value}
        before = client_count(app)
        response = registrar.register(body)
        assert_well_formed(response, 201)
        if response.status_code == 400:
            assert client_count(app) == before
            return
        info = response.json
        token = info["registration_access_token"]
        again = body | {"client_id": info["client_id"]}
        again.pop("client_secret", None)
        updated = registrar.replace(info["client_id"], token, again)
        assert updated.status_code == 200, updated.json
        assert registrar.read(info["client_id"], token).json == updated.json

    run()


def test_any_field_value_in_an_update_replaces_whole_or_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    registrar = Registrar(app, client)
    info = registrar.registered(WEB_APP)
    client_id, token = info["client_id"], info["registration_access_token"]

    @FUZZ_SETTINGS
    @given(field=st.sampled_from(FIELDS), value=JSON)
    def run(field: str, value: Any) -> None:
        before = registrar.read(client_id, token).json
        response = registrar.replace(client_id, token, WEB_APP | {"client_id": client_id} | {
            field: value
        })  # fmt: skip
        assert_well_formed(response, 200)
        if response.status_code == 400:
            assert registrar.read(client_id, token).json == before

    run()

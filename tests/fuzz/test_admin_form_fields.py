"""The admin "Register client" form's field validation, fuzzed with CSRF switched off.

CSRF is off here only so every example reaches the field rules (RFC 7591 metadata,
RFC 9700 §2.1 redirect URIs, https-only logo and client URIs); test_properties.py fuzzes the
same form with CSRF on. All-or-nothing (docs/security.md LS-09): a 400 stores no client, a 201
stores exactly one, and the page never shows a traceback.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls

from app.scopes import SCOPES_SUPPORTED
from app.services.client_metadata import AUTH_METHODS, GRANT_TYPES
from tests.factories import UserFactory
from tests.fuzz import drivers
from tests.fuzz.conftest import FUZZ_SETTINGS, Store, sign_in
from tests.fuzz.test_properties import VALUE, extras
from tests.fuzz.wire import Value, raw

pytestmark = pytest.mark.fuzz

URI_FIELDS = ("redirect_uris", "jwks_uri", "logo_uri", "client_uri", "post_logout_redirect_uris")
HOSTS = ("app.test", "127.0.0.1", "localhost", "[::1]", "xn--pp-8ka.test", "a" * 300, "")
URI_LIKE = st.builds(
    lambda scheme, userinfo, host, port, path, tail: f"{scheme}{userinfo}{host}{port}{path}{tail}",
    st.sampled_from(["https://", "http://", "javascript:", "data:", "//", "HTTPS://", ""]),
    st.sampled_from(["", "user@", "user:pw@"]),
    st.sampled_from(HOSTS),
    st.sampled_from(["", ":0", ":443", ":65536", ":-1", ":x"]),
    st.text(max_size=20),
    st.sampled_from(["", "?a=1", "#frag", "/*", "\n", "\r\nhttps://app.test/cb2"]),
)


def field_value(field: str) -> st.SearchStrategy[Value]:
    """Values for one field: fuzz, plus values shaped like what the field expects."""
    if field in URI_FIELDS:
        return st.one_of(VALUE, urls(), URI_LIKE, st.lists(URI_LIKE, max_size=4).map("\n".join))
    if field == "grant_types":
        return st.one_of(VALUE, st.sampled_from(GRANT_TYPES))
    if field == "token_endpoint_auth_method":
        return st.one_of(VALUE, st.sampled_from(AUTH_METHODS))
    if field == "scope":
        words = st.lists(st.sampled_from(SCOPES_SUPPORTED) | st.text(max_size=10), max_size=6)
        return st.one_of(VALUE, words.map(" ".join))
    return VALUE


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"WTF_CSRF_ENABLED": False}


def test_register_client_form_is_all_or_nothing_for_any_field_value(
    app: Flask, users: UserFactory, store: Store
) -> None:
    """A fuzzed field in an otherwise valid registration: 400 stores nothing, 201 one client."""
    users.create("root", admin=True)
    driver = drivers.AdminClientFormDriver(sign_in(app, "root"), csrf=False)
    field_and_value = st.sampled_from(driver.fields).flatmap(
        lambda field: st.tuples(st.just(field), field_value(field))
    )

    @FUZZ_SETTINGS
    @given(chosen=field_and_value, extra=extras(driver.fields))
    def run(chosen: tuple[str, Value], extra: list[tuple[Value, Value]]) -> None:
        field, value = chosen
        before = store.snapshot()
        label = ("admin form", field, raw(value)[:120], extra)
        response = store.check(lambda: driver.send(field, value, extra), label)
        assert response.status_code in (201, 400, 413), (label, response.status_code)
        if response.status_code == 201:
            assert store.snapshot().rows["clients"] == before.rows["clients"] + 1, label

    run()

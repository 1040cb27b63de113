"""What the fuzzers found, each as its smallest request (issue 6 item 8).

Every one of these answered 500 (or broke RFC 6749 §5.2) before its fix; the corpus and the
Hypothesis runs find them again only by chance pairing, so each is pinned here by name.
"""

from __future__ import annotations

import json
import re
from functools import partial

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fuzz.conftest import Store, World, assert_clean
from tests.fuzz.drivers import AdminClientFormDriver

pytestmark = pytest.mark.fuzz

RFC6749_DESCRIPTION = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")
DEEP = 10_000


def error_of(response: TestResponse) -> str:
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.get_data(as_text=True)[:300]
    return str(body.get("error"))


def test_json_nested_10000_deep_is_a_400_not_a_recursion_error(world: World, store: Store) -> None:
    """PATCH /api/v1/photos/{id} with 10,000-deep JSON: json's RecursionError was a 500."""
    api = world.api()
    path = f"/api/v1/photos/{world.photo_id}"
    for body in ("[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP):
        response = store.check(
            partial(api.http.patch, path, data=body, content_type="application/json",
                    headers=api.headers()),
            body[:10],
        )  # fmt: skip
        assert response.status_code == 400 and error_of(response) == "invalid_request"


def test_json_lone_surrogate_is_a_400_and_the_photo_is_unchanged(
    world: World, store: Store
) -> None:
    """JSON "\\ud800" is valid syntax but not Unicode text; storing it was a 500."""
    api = world.api()
    before = api.get(f"/photos/{world.photo_id}").get_json()
    for field in ("title", "description"):
        body = '{"' + field + '": "x\\ud800y"}'
        response = store.check(
            partial(api.http.patch, f"/api/v1/photos/{world.photo_id}", data=body,
                    content_type="application/json", headers=api.headers()),
            field,
        )  # fmt: skip
        assert response.status_code == 400 and error_of(response) == "invalid_request"
    assert api.get(f"/photos/{world.photo_id}").get_json() == before


def test_admin_form_malformed_ipv6_uri_is_a_400_and_stores_no_client(
    world: World, store: Store
) -> None:
    """urlsplit raises ValueError on a broken IPv6 host; the form answered 500."""
    driver = AdminClientFormDriver(world.signed_in("root"))
    for field in ("logo_uri", "client_uri"):
        for uri in ("https://[" + ":" * 5000 + "]/", "https://[::1/logo.png"):
            response = store.check(partial(driver.send, field, uri), (field, uri[:20]))
            assert response.status_code == 400, (field, uri[:20])


@pytest.mark.parametrize(
    "header", ["Basic \xa0", "Bearer ", " "], ids=["basic-nbsp", "bearer-space", "space"]
)
def test_authorization_header_without_credentials_is_invalid_client(
    world: World, store: Store, header: str
) -> None:
    """``Basic <NBSP>`` (through gunicorn too), ``Bearer `` or a lone space on /token,
    /revoke and /introspect: werkzeug's and authlib's Basic parsers raised ValueError, a
    500; RFC 6749 §5.2 wants 401 invalid_client."""
    form = {"grant_type": "client_credentials", "token": "x"}
    http = world.app.test_client()
    for path in ("/token", "/revoke", "/introspect"):
        response = store.check(
            partial(http.post, path, data=form, environ_overrides={"HTTP_AUTHORIZATION": header}),
            path,
        )
        assert response.status_code == 401 and error_of(response) == "invalid_client", path
        assert response.headers["WWW-Authenticate"].startswith("Basic"), path


def test_query_string_that_is_not_utf8_is_a_400(client: FlaskClient, store: Store) -> None:
    """Raw bytes 0xFF 0xFE in the query (no %-escapes): werkzeug's request.args raised
    UnicodeDecodeError in the NUL guard, a 500 on every route. gunicorn refuses such a
    request line itself; other WSGI servers (and ``flask run``) pass it on."""
    for method, path in (("get", "/authorize"), ("post", "/token"), ("get", "/api/v1/photos"),
                         ("get", "/login")):  # fmt: skip
        send = getattr(client, method)
        response = store.check(
            partial(send, path, environ_overrides={"QUERY_STRING": "a=\xff\xfe"}), path
        )
        assert response.status_code == 400, path


def test_error_description_never_echoes_control_characters(world: World, store: Store) -> None:
    """A repeated parameter whose name holds \\x1f: /token quoted the name back, breaking the
    RFC 6749 §5.2 character set for error_description."""
    http = world.app.test_client()
    body = "grant_type=client_credentials&a%1F%0D%0A=1&a%1F%0D%0A=2"
    response = store.check(
        lambda: http.post("/token", data=body, content_type="application/x-www-form-urlencoded")
    )
    assert response.status_code == 400 and error_of(response) == "invalid_request"
    description = json.loads(response.get_data())["error_description"]
    assert RFC6749_DESCRIPTION.fullmatch(description), description
    assert_clean(response)

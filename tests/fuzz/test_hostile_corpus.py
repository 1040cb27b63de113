"""The fixed hostile corpus against every fuzzed endpoint (docs/security.md ER-01, ER-03..ER-07).

Each corpus value is sent to each endpoint in one of its fields (rotating, so every field
gets its share; ``make fuzz`` sends every value in every field), and each whole-request
attack once. Every answer is below 500 with no traceback, no forged header, and a refused
request stores nothing. Where a standard names the answer, it is asserted too: RFC 6749
§3.1 and §3.2 (form-encoded, each parameter once: ``invalid_request``) on /token, /revoke
and /introspect, and a 400 for JSON the photo API cannot read (ASVS 1.5.3).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.fuzz import drivers
from tests.fuzz.conftest import EXAMPLES, Store, World
from tests.fuzz.corpus import SHAPES, VALUES
from tests.oauth.helpers import query_of

pytestmark = pytest.mark.fuzz

ALL_FIELDS = EXAMPLES >= 200  # the long run (make fuzz) crosses every value with every field

DRIVERS: dict[str, Callable[[World], Any]] = {
    "authorize": drivers.AuthorizeDriver,
    **{
        f"token_{grant}": (lambda world, grant=grant: drivers.TokenDriver(world, grant))
        for grant in drivers.TokenDriver.GRANTS
    },
    "revoke": lambda world: drivers.TokenEndpointDriver(world, "/revoke"),
    "introspect": lambda world: drivers.TokenEndpointDriver(world, "/introspect"),
    "userinfo": drivers.UserinfoDriver,
    "login": drivers.LoginDriver,
    "consent": drivers.ConsentDriver,
    "admin_client_form": lambda world: drivers.AdminClientFormDriver(world.signed_in("root")),
    "upload_api": lambda world: drivers.UploadDriver(world, "api"),
    "upload_page": lambda world: drivers.UploadDriver(world, "page"),
    "photo_api": drivers.PhotoApiDriver,
}

# RFC 6749 §3.2 / §3.1: form-encoded bodies only, each parameter at most once.
REFUSED_BY_OAUTH_FORM_ENDPOINTS = {
    "repeated_parameters", "json_body", "text_plain_body", "multipart_body", "no_content_type",
    "deep_json_array", "deep_json_object", "truncated_json", "json_escaped_surrogate",
}  # fmt: skip
FORM_ENDPOINTS = {f"token_{grant}" for grant in drivers.TokenDriver.GRANTS} | {
    "revoke",
    "introspect",
}
UNREADABLE_JSON = {
    "deep_json_array",
    "deep_json_object",
    "truncated_json",
    "json_escaped_surrogate",
}


# An unfuzzed request per driver, and what it gets: proof that fuzzing one field starts from
# a request that reaches deep into the endpoint, not one refused at the door.
BASELINES: dict[str, tuple[str, Callable[[World], str], int]] = {
    "authorize": ("state", lambda world: "st-1", 200),  # the consent page
    "token_authorization_code": ("code_verifier", lambda world: "v" * 43, 400),  # invalid_grant
    "token_refresh_token": ("scope", lambda world: "photos.read", 200),
    "token_client_credentials": ("scope", lambda world: "photos.read", 200),
    "token_unknown": ("grant_type", lambda world: "urn:example:unknown", 400),
    "revoke": ("token", lambda world: "not-a-token", 200),
    "introspect": ("token", lambda world: world.access_token, 200),
    "userinfo": ("bearer", lambda world: world.access_token, 200),
    "login": ("username", lambda world: "bob", 200),  # the page again: wrong password
    "consent": ("decision", lambda world: "allow", 303),
    "admin_client_form": ("client_name", lambda world: "Fuzzed app", 201),
    "upload_api": ("title", lambda world: "Fuzz", 201),
    "upload_page": ("title", lambda world: "Fuzz", 303),
    "photo_api": ("photo_id", lambda world: world.photo_id, 200),
}


def assert_gets_deep(driver: Any, world: World, target: str) -> None:
    field, value, status = BASELINES[target]
    response = driver.send(field, value(world))
    assert response.status_code == status, (target, response.get_data(as_text=True)[:300])
    if target == "token_authorization_code":
        assert response.get_json()["error"] == "invalid_grant"
    if target == "consent":
        assert "code=" in response.headers["Location"]


def fields_for(driver: Any, index: int) -> tuple[str, ...]:
    if ALL_FIELDS:
        return tuple(driver.fields)
    return (driver.fields[index % len(driver.fields)],)


@pytest.mark.parametrize("target", list(DRIVERS))
def test_every_corpus_value_is_answered_cleanly_and_a_refusal_stores_nothing(
    world: World, store: Store, target: str
) -> None:
    """Each hostile value in a field of an otherwise good request: below 500, no traceback,
    no injected header; a 4xx leaves every row and photo file as it was. First, unfuzzed,
    the request gets deep (BASELINES), so the values are not all refused at the door."""
    driver = DRIVERS[target](world)
    assert_gets_deep(driver, world, target)
    tracker = store.tracker()
    sent = 0
    for index, item in enumerate(VALUES):
        for field in fields_for(driver, index):
            tracker.check(partial(driver.send, field, item.value), (target, field, item))
            sent += 1
    assert sent >= len(VALUES)


def test_every_whole_request_attack_is_answered_cleanly_by_every_endpoint(
    world: World, store: Store
) -> None:
    """Repeated parameters, wrong content types, 10,000-deep JSON, overlong URLs, raw
    non-UTF-8 bytes, against every endpoint: clean answers, and the ones a standard names
    are asserted exactly. Every failing pair is listed, not only the first."""
    failures = []
    for target, make_driver in DRIVERS.items():
        driver = make_driver(world)
        tracker = store.tracker()
        for shape in SHAPES:
            try:
                response = tracker.check(partial(driver.shape, shape), (target, shape))
                assert_standard_answer(target, shape, response)
            except AssertionError as error:
                failures.append(f"{target} / {shape}: {str(error).splitlines()[0][:200]}")
                tracker = store.tracker()  # a fresh baseline after a failed request
    assert not failures, "\n".join(failures)


def assert_standard_answer(target: str, shape: str, response: TestResponse) -> None:
    if target in FORM_ENDPOINTS and shape in REFUSED_BY_OAUTH_FORM_ENDPOINTS:
        assert_oauth_error(response, 400, "invalid_request", (target, shape))
    if target == "authorize" and shape == "repeated_parameters":
        assert_authorize_refused(response)
    if target == "photo_api" and shape in UNREADABLE_JSON:
        assert_oauth_error(response, 400, "invalid_request", (target, shape))


def assert_oauth_error(response: TestResponse, status: int, error: str, what: object) -> None:
    """An RFC 6749 §5.2 JSON error with this status and code."""
    body = response.get_json(silent=True)
    assert response.status_code == status, (what, response.status_code, body)
    assert isinstance(body, dict) and body.get("error") == error, (what, body)


def assert_authorize_refused(response: TestResponse) -> None:
    """Repeated authorization parameters: an error page, or invalid_request at the client."""
    if response.status_code in (302, 303):
        params = query_of(response.headers["Location"])
        assert params.get("error") == "invalid_request", params
        assert "code" not in params
    else:
        assert response.status_code == 400, response.status_code

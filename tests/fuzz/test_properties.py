"""Hypothesis against the authorization server, the sign-in and consent forms and uploads.

Each example takes an otherwise good request, puts a generated value into one field (any
surrogate-free text with control characters, raw bytes, or a value up to 1 MB) and may add
repeated or unknown parameters. For every answer: status below 500, no traceback, no
forged header, and a refused request (4xx) stores nothing (docs/security.md ER-03, ER-05..ER-07).
Where a standard fixes more, it is checked too: RFC 6749 §5.1/§5.2 (``no-store``, a JSON
``error`` without CR/LF) on /token, /revoke and /introspect; a wrong sign-in never signs in;
a consent POST without the right ticket, CSRF token and "Allow" never issues a code.
"""

from __future__ import annotations

import io
import re
import string
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from werkzeug.test import TestResponse

from tests.fuzz import drivers
from tests.fuzz.conftest import FUZZ_SETTINGS, Store, World
from tests.fuzz.wire import Value, raw

pytestmark = pytest.mark.fuzz

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
# Up to 1 MB of URL-safe characters: werkzeug's test client re-decodes every %XX of a URL
# several times, so megabytes of escapes would measure the test client, not Tessera.
HUGE = st.builds(
    lambda chunk, count: chunk * count,
    st.text(string.ascii_letters + string.digits + "-._~", min_size=1, max_size=3),
    st.integers(min_value=1_000, max_value=1_100_000),
)
VALUE: st.SearchStrategy[Value] = st.one_of(TEXT, st.binary(max_size=300), HUGE)
OAUTH_ERROR_DESCRIPTION = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")  # RFC 6749 §5.2


def extras(fields: tuple[str, ...]) -> st.SearchStrategy[list[tuple[Value, Value]]]:
    """Up to three more parameters: repeats of the endpoint's own, or unknown ones."""
    key = st.one_of(st.sampled_from(fields), TEXT)
    return st.lists(st.tuples(key, st.one_of(TEXT, st.binary(max_size=50))), max_size=3)


def fuzz_fields(
    store: Store, driver: Any, what: str, *, always: bool = False, then: Any = None
) -> None:
    """Run FUZZ_EXAMPLES requests against ``driver`` with one field fuzzed each."""

    @FUZZ_SETTINGS
    @given(field=st.sampled_from(driver.fields), value=VALUE, extra=extras(driver.fields))
    def run(field: str, value: Value, extra: list[tuple[Value, Value]]) -> None:
        label = (what, field, raw(value)[:80], len(raw(value)), extra)
        response = store.check(lambda: driver.send(field, value, extra), label, always=always)
        if then is not None:
            then(field, value, response)

    run()


def assert_oauth_json(field: str, value: Value, response: TestResponse) -> None:
    """RFC 6749 §5.1/§5.2: never cached; errors are JSON with a plain error_description."""
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (field, body)
        description = body.get("error_description", "")
        assert OAUTH_ERROR_DESCRIPTION.fullmatch(description), (field, description)


def assert_token_answer(field: str, value: Value, response: TestResponse) -> None:
    assert "no-store" in response.headers.get("Cache-Control", ""), (field, response.headers)
    assert_oauth_json(field, value, response)


@pytest.mark.parametrize("grant", drivers.TokenDriver.GRANTS)
def test_token_endpoint_properties_for_each_grant_type(
    world: World, store: Store, grant: str
) -> None:
    """/token with a fuzzed field, for each grant type and an unknown one."""
    driver = drivers.TokenDriver(world, grant)
    fuzz_fields(store, driver, f"token {grant}", then=assert_token_answer)


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_revocation_and_introspection_properties(world: World, store: Store, path: str) -> None:
    """RFC 7009 / RFC 7662 endpoints with a fuzzed token, hint or Authorization header."""
    driver = drivers.TokenEndpointDriver(world, path)
    fuzz_fields(store, driver, path, then=assert_oauth_json)


def test_authorization_endpoint_properties(world: World, store: Store) -> None:
    """GET /authorize as a signed-in user with one fuzzed query parameter."""
    fuzz_fields(store, drivers.AuthorizeDriver(world), "authorize")


def test_userinfo_properties(world: World, store: Store) -> None:
    """/userinfo with a fuzzed bearer token, header, form body or query token; a refusal
    carries an RFC 6750 challenge."""

    def challenge(field: str, value: Value, response: TestResponse) -> None:
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer "), field

    fuzz_fields(store, drivers.UserinfoDriver(world), "userinfo", then=challenge)


def test_sign_in_form_properties(world: World, store: Store) -> None:
    """POST /login with the page's CSRF token: never signed in, nothing stored."""

    def not_signed_in(field: str, value: Value, response: TestResponse) -> None:
        assert response.status_code != 303, (field, response.headers.get("Location"))

    fuzz_fields(store, drivers.LoginDriver(world), "login", always=True, then=not_signed_in)


def test_consent_form_properties(world: World, store: Store) -> None:
    """The consent POST: a code only for "Allow" with the page's own ticket and CSRF token."""

    def code_only_when_allowed(field: str, value: Value, response: TestResponse) -> None:
        tampered = field in ("consent_ticket", "csrf_token", "query")
        if tampered or (field == "decision" and raw(value) != b"allow"):
            assert "code=" not in response.headers.get("Location", ""), (field, value)

    driver = drivers.ConsentDriver(world)
    fuzz_fields(store, driver, "consent", then=code_only_when_allowed)


def test_admin_client_form_with_csrf_properties(world: World, store: Store) -> None:
    """The "Register client" form with CSRF on: a fuzzed field, the real token."""
    driver = drivers.AdminClientFormDriver(world.signed_in("root"))
    fuzz_fields(store, driver, "admin form (csrf)")


# -- uploads -----------------------------------------------------------------------------------
@cache
def sample_images() -> tuple[bytes, ...]:
    """One small real image per accepted format, and an animated GIF."""
    out = []
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        buffer = io.BytesIO()
        Image.new("RGB", (24, 16), "teal").save(buffer, format=fmt)
        out.append(buffer.getvalue())
    frames = [Image.new("P", (8, 8), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return (*out, buffer.getvalue())


def _flip(image: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(image)
    for position, byte in flips:
        data[position % len(data)] = byte
    return bytes(data)


IMAGE = st.sampled_from(sample_images())
UPLOAD_BYTES = st.one_of(
    st.binary(max_size=2_000),
    st.builds(lambda image, cut: image[: cut % (len(image) + 1)], IMAGE, st.integers(0, 10**6)),
    st.builds(
        _flip,
        IMAGE,
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
    ),  # fmt: skip
    st.builds(lambda image, tail: image + tail, IMAGE, st.binary(min_size=1, max_size=500)),
    st.builds(lambda image, tail: image[:32] + tail, IMAGE, st.binary(max_size=2_000)),
)


@pytest.mark.parametrize("surface", ["api", "page"])
def test_photo_upload_properties(world: World, store: Store, surface: str) -> None:
    """Random bytes, truncated, bit-flipped and padded images, fuzzed names and types, by
    the API and by the My photos page: a refusal stores neither a row nor a file, and an
    acceptance stores exactly one of each."""
    driver = drivers.UploadDriver(world, surface)

    @FUZZ_SETTINGS
    @given(
        field=st.sampled_from(driver.fields),
        value=VALUE,
        data=UPLOAD_BYTES,
        fuzz_file=st.booleans(),
    )
    def run(field: str, value: Value, data: bytes, fuzz_file: bool) -> None:
        field, value = ("file", data) if fuzz_file else (field, value)
        before = store.snapshot()
        label = (surface, field, raw(value)[:80], len(raw(value)))
        response = store.check(lambda: driver.send(field, value), label)
        if response.status_code in (201, 303) and "error" not in response.get_data(as_text=True):
            after = store.snapshot()
            assert after.rows["photos"] == before.rows["photos"] + 1, label
            assert after.files == before.files + 1, label

    run()

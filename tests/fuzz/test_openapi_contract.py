"""Schemathesis against the photo API's own OpenAPI document, with a real bearer token.

Every operation of /api/v1/openapi.json is called with cases generated from the document,
valid ones (positive) and deliberately invalid ones (negative), as bob with a token holding
photos.read and photos.write. Half the cases name bob's real photo or upload a real image,
so the authorized code paths run, not only the 404 and 415. Checks: no 5xx; status codes,
content types, headers and bodies as documented; invalid input refused; no traceback text in
any body (docs/security.md ER-03); and a refused call stores nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.services import photos as photo_service
from tests.api.conftest import image_bytes
from tests.fuzz.conftest import EXAMPLES, FUZZ_SETTINGS, TRACEBACK_MARKERS, Store, World

pytestmark = pytest.mark.fuzz

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schemathesis.check
def no_traceback_in_body(ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
    """Tessera's own check: no Python traceback or source path in any answer."""
    text = response.content.decode("utf-8", errors="replace")
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"{marker!r} in the body: {text[:500]}"
    return None


def _ensure_photo(world: World) -> str:
    """Bob's fuzzing photo, uploaded again if a generated DELETE removed it."""
    with world.app.app_context():
        if photo_service.get_for_owner(world.photo_id, world.bob_id) is None:
            world.photo_id = photo_service.store_upload(world.bob_id, image_bytes(), "Again").id
    return world.photo_id


def _make_real(case: Any, world: World) -> list[Any]:
    """Point the case at bob's real photo, or upload a real image, so the 2xx paths run.

    Returns the checks that still apply: schemathesis reads image bytes as a schema
    violation (not a JSON string), so an upload made real is not judged as negative data.
    """
    if case.path_parameters and "photo_id" in case.path_parameters:
        case.path_parameters["photo_id"] = _ensure_photo(world)
    if case.method.upper() == "POST" and isinstance(case.body, dict):
        case.body = case.body | {"file": image_bytes()}
        return [check for check in CHECKS if check is not negative_data_rejection]
    return CHECKS


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_document_says(
    world: World, store: Store, mode: GenerationMode
) -> None:
    """Generated calls to each documented operation get documented, clean answers; a
    refused call stores nothing."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:
        assert fuzz_operation(operation, mode, world, store) == EXAMPLES, operation.label


def fuzz_operation(operation: Any, mode: GenerationMode, world: World, store: Store) -> int:
    """Run FUZZ_EXAMPLES generated cases of one operation; returns how many were sent."""
    auth = {"Authorization": f"Bearer {world.access_token}"}
    sent = 0

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
    def call(case: Any, real: bool) -> None:
        nonlocal sent
        checks = _make_real(case, world) if real else CHECKS
        with store.unchanged_unless_accepted(case) as responses:
            response = case.call(headers=auth)
            case.validate_response(
                response, checks=checks, additional_checks=[no_traceback_in_body]
            )
            responses.append(response)
        sent += 1

    call()
    return sent
